import Foundation
import ZeroMQ

/// The agents' public keys this coordinator admits, kept in a plain file:
/// one Z85 key per line, optionally followed by a name (see `AuthorizedKeys`).
///
/// The file is read again whenever it changes, so `farm-coordinator agents
/// add` and `revoke` (or a secret store's sync writing the file) take effect
/// on the next connection without a restart. Revoking a key refuses its new
/// connections; restart the coordinator (or the agent) to cut a live one.
public final class AgentKeyring: @unchecked Sendable {
    public let path: URL
    private let lock = NSLock()
    private var keys: [String: String] = [:]
    private var loadedStamp: Date?

    public init(path: URL) {
        self.path = path
    }

    /// The name recorded for `key` (the key itself when it has none), or `nil` if it is not admitted.
    public func admit(_ key: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let stamp = (try? FileManager.default.attributesOfItem(atPath: path.path))?[.modificationDate] as? Date
        // A miss reads the file again too: two appends within one timestamp tick look unchanged.
        if stamp != loadedStamp || keys[key] == nil {
            keys = AuthorizedKeys.parse((try? String(contentsOf: path, encoding: .utf8)) ?? "")
            loadedStamp = stamp
        }
        return keys[key]
    }
}
