import ArgumentParser
import Foundation

@main
struct FarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm",
        abstract: "Render Manim scripts on a ManimFarm.",
        discussion: """
            Exit codes: 0 success; 1 the video failed or was cancelled; 2 the request was refused \
            (bad script, unknown scene, bad option); 3 the coordinator could not be reached.
            """,
        subcommands: [Up.self, Submit.self, Status.self, Agents.self, Cancel.self])
}

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(help: "Coordinator URL (default: $FARM_COORDINATOR, else http://127.0.0.1:8080).")
    var coordinator: String?

    var client: FarmClient {
        get throws {
            let text = coordinator ?? ProcessInfo.processInfo.environment["FARM_COORDINATOR"] ?? "http://127.0.0.1:8080"
            guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else {
                throw ValidationError("invalid coordinator URL \(text)")
            }
            return FarmClient(base: url)
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
