import Hummingbird
import HummingbirdAuth

/// A request's context: Hummingbird's core context and the identity its API key proved.
public struct FarmRequestContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: FarmIdentity?

    public init(source: Source) {
        coreContext = .init(source: source)
        identity = nil
    }
}
