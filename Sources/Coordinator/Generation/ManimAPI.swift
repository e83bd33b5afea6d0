import FarmProtocol
import Foundation

/// The agents' Manim's public names (`DescribeManim`): what a generated script may use.
public struct ManimAPI: Sendable, Equatable {
    public var version: String
    /// `scenes`, `mobjects` and `animations` (with their constructors' parameters), `other classes`,
    /// `functions` (with parameters) and `constants`.
    public var sections: [String: [String]]

    public init(version: String, sections: [String: [String]]) {
        self.version = version
        self.sections = sections
    }
}

/// Asks an agent for the API and keeps the answer a while: agents of one fleet share a Manim, and a rolling
/// upgrade is seen within `freshFor`.
actor ManimAPIReader {
    let engine: FarmEngine
    static let freshFor: Duration = .seconds(900)
    private var cached: (api: ManimAPI, at: ContinuousClock.Instant)?

    init(engine: FarmEngine) {
        self.engine = engine
    }

    /// The API, waiting up to `deadline` for an agent to list it.
    func current(within deadline: Duration) async throws -> ManimAPI {
        if let cached, ContinuousClock.now - cached.at < Self.freshFor { return cached.api }
        switch await engine.describeManim(within: deadline) {
        case .success(let described):
            let api = ManimAPI(version: described.manimVersion ?? "unknown", sections: described.sections ?? [:])
            cached = (api, .now)
            return api
        case .failure(let failure):
            throw failure
        }
    }
}
