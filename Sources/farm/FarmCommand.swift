import ArgumentParser
import Foundation

@main
struct FarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm",
        abstract: "Render Manim scripts on a ManimFarm.",
        discussion: """
            Exit codes: 0 success; 1 the video failed or was cancelled; 2 the request was refused \
            (bad script, unknown scene, bad option, no or a bad API key); 3 the coordinator could not be reached.
            """,
        subcommands: [Up.self, Submit.self, Generate.self, Generation.self, Status.self, Agents.self, Cancel.self, Login.self, WhoAmI.self, Account.self, Team.self])
}

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(help: "Coordinator URL (default: $FARM_COORDINATOR, else http://127.0.0.1:8080).")
    var coordinator: String?

    @Option(help: "API key, or @FILE holding one (default: $FARM_API_KEY, else the one `farm up` or `farm login` saved for the coordinator).")
    var apiKey: String?

    var coordinatorURL: URL {
        get throws {
            let text = coordinator ?? ProcessInfo.processInfo.environment["FARM_COORDINATOR"] ?? "http://127.0.0.1:8080"
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("invalid coordinator URL \(text)")
            }
            return url
        }
    }

    var client: FarmClient {
        get throws {
            let url = try coordinatorURL
            let environment = ProcessInfo.processInfo.environment["FARM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
            guard let given = apiKey ?? environment else {
                return FarmClient(base: url, apiKey: ClientConfiguration.load().apiKey(for: url))
            }
            // `@path` names a file holding the key (the coordinator's keys/admin.key, say): no key in `ps`.
            guard given.hasPrefix("@") else { return FarmClient(base: url, apiKey: given) }
            guard let text = try? String(contentsOfFile: String(given.dropFirst()), encoding: .utf8) else {
                throw ValidationError("cannot read the API key file \(given.dropFirst())")
            }
            return FarmClient(base: url, apiKey: text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// Exit codes that mean something to scripts.
enum FarmExit {
    static let videoFailed = ExitCode(1)
    static let refused = ExitCode(2)
    static let unreachable = ExitCode(3)
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("farm: \(message)\n".utf8))
}
