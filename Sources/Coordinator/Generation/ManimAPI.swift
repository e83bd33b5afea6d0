import Foundation

/// The installed Manim's public names, from `manim_api.py`: what a generated script may use.
public struct ManimAPI: Sendable, Decodable, Equatable {
    public var version: String
    /// `scenes`, `mobjects` and `animations` (with their constructors' parameters), `other classes`,
    /// `functions` (with parameters) and `constants`.
    public var sections: [String: [String]]

    public init(version: String, sections: [String: [String]]) {
        self.version = version
        self.sections = sections
    }

    /// Reads the API of the Manim that `python` imports; done once per coordinator (`ManimAPIReader`).
    static func read(python: String, timeout: Duration = .seconds(60)) async throws -> ManimAPI {
        guard let helper = Bundle.module.url(forResource: "manim_api", withExtension: "py") else {
            throw Unavailable(description: "manim_api.py is missing from the coordinator's resources")
        }
        let output: Data
        do {
            output = try await offloaded { try SceneDiscovery.run(python: python, helper: helper.path, input: Data(), timeout: timeout) }
        } catch {
            throw Unavailable(description: "\(python) could not list Manim's API (\(error)); script generation needs Manim "
                + "installed beside the coordinator (scripts/install-deps.sh, or --python naming a Python that imports it)")
        }
        do {
            return try JSONDecoder().decode(ManimAPI.self, from: output)
        } catch {
            throw Unavailable(description: "manim_api.py answered with something else than its JSON: \(String(decoding: output.prefix(200), as: UTF8.self))")
        }
    }

    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }
}

/// Reads the API once and keeps it; a failed read is tried again on the next request.
actor ManimAPIReader {
    let python: String
    private var api: ManimAPI?

    init(python: String) {
        self.python = python
    }

    func current() async throws -> ManimAPI {
        if let api { return api }
        let read = try await ManimAPI.read(python: python)
        api = read
        return read
    }
}
