import ArgumentParser
import Foundation

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an embedded farm: a coordinator (SQLite, local storage) and local agents, as child processes.",
        discussion: """
            Starts the farm-coordinator and farm-agent executables found beside this one (else on PATH), \
            enrolls the agents' keys with the coordinator, and stops them all on Ctrl-C or when one of them dies.
            """)

    @Option(help: "Local agents to start.")
    var agents = 2

    @Option(help: "Render slots per agent.")
    var slots = 1

    @Option(help: "HTTP listen address, HOST:PORT.")
    var http = "127.0.0.1:8080"

    @Option(help: "ZeroMQ endpoint for agents (other hosts may connect too).")
    var zmq = "tcp://127.0.0.1:5555"

    @Option(help: "Folder for the database, segments, videos and agents' scratch space.")
    var dataDir = "farm-data"

    @Option(help: "Python of the virtual environment with Manim (default: $FARM_PYTHON or the nearest .venv).")
    var python: String?

    @Option(help: "Shortest estimated render, in seconds, worth an animation range of its own when splitting long scenes.")
    var minimumPieceSeconds = 3.0

    @Flag(inversion: .prefixedNo, help: "Fork each render from a pre-imported Manim.")
    var warmWorkers = true

    @Option(help: "Run Manim in the bubblewrap sandbox: auto, on or off (trusted scripts only).")
    var sandbox = "auto"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "notice"

    func validate() throws {
        guard (1...64).contains(agents) else { throw ValidationError("--agents must be between 1 and 64") }
        guard (1...64).contains(slots) else { throw ValidationError("--slots must be between 1 and 64") }
        guard ["auto", "on", "off"].contains(sandbox) else { throw ValidationError("--sandbox takes auto, on or off") }
        guard let colon = http.lastIndex(of: ":"), Int(http[http.index(after: colon)...]) != nil else {
            throw ValidationError("--http must be HOST:PORT")
        }
    }

    func run() async throws {
        let data = URL(fileURLWithPath: dataDir, isDirectory: true).standardizedFileURL
        let coordinatorData = data.appendingPathComponent("coordinator")
        try FileManager.default.createDirectory(at: coordinatorData, withIntermediateDirectories: true)
        let readyFile = coordinatorData.appendingPathComponent("ready.json")
        try? FileManager.default.removeItem(at: readyFile)

        let supervisor = ChildSupervisor()
        var coordinatorArguments = [
            "--data-dir", coordinatorData.path, "--http", http, "--zmq", zmq,
            "--minimum-piece-seconds", "\(minimumPieceSeconds)", "--ready-file", readyFile.path, "--log-level", logLevel,
        ]
        if let python { coordinatorArguments += ["--python", python] }
        try supervisor.start(name: "coordinator", executable: try Self.executable("farm-coordinator"), arguments: coordinatorArguments)

        guard let ready = await supervisor.waitForFile(readyFile, timeout: .seconds(120)),
              let endpoints = try? JSONDecoder().decode([String: String].self, from: ready), let url = endpoints["http"] else {
            await supervisor.stopAll()
            throw ValidationError("the coordinator did not start (its log is above)")
        }
        print("farm up: \(url)  agents: \(endpoints["zmq"] ?? zmq)")
        Self.saveAdminKey(from: coordinatorData, for: url)
        let webURL = url.hasSuffix("/") ? url : url + "/"
        print("farm up: web pages at \(webURL) (sign in with the admin's key: \(coordinatorData.appendingPathComponent("keys/admin.key").path))")

        // Local agents get keys of their own, admitted in the coordinator's keys folder: nothing to set up by hand.
        let keys = coordinatorData.appendingPathComponent("keys")
        let host = ProcessInfo.processInfo.hostName
        for index in 1...agents {
            var arguments = [
                "--coordinator", zmq, "--slots", "\(slots)", "--work-dir", data.appendingPathComponent("agent-\(index)").path,
                "--id", "\(host)-local-\(index)", "--drain-grace", "5", "--sandbox", sandbox, "--log-level", logLevel,
                "--enroll", keys.path, "--key-file", keys.appendingPathComponent("local-agent-\(index).key").path,
            ]
            if let python { arguments += ["--python", python] }
            if !warmWorkers { arguments.append("--no-warm-workers") }
            try supervisor.start(name: "agent \(index)", executable: try Self.executable("farm-agent"), arguments: arguments)
        }
        let ended = await supervisor.runUntilSignalOrExit()
        await supervisor.stopAll()
        if case .childExited(let name, let status) = ended {
            throw ValidationError("\(name) exited with status \(status); the farm stopped")
        }
    }

    /// Saves the key of the coordinator's first admin (written at its first start) in the CLI's
    /// configuration for `url`, so `farm submit` works with no key to copy.
    static func saveAdminKey(from coordinatorData: URL, for url: String) {
        let keyFile = coordinatorData.appendingPathComponent("keys/admin.key")
        guard let base = URL(string: url),
              let key = (try? String(contentsOf: keyFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines),
              !key.isEmpty else {
            printError("no admin key in \(keyFile.path): create one with `farm-coordinator keys create --user admin --data-dir \(coordinatorData.path)`")
            return
        }
        do {
            try ClientConfiguration.save(apiKey: key, for: base)
            print("farm up: the admin's API key is saved for \(url) in \(ClientConfiguration.path.path)")
        } catch {
            printError("could not save the API key in \(ClientConfiguration.path.path): \(error.localizedDescription); use --api-key @\(keyFile.path)")
        }
    }

    /// `name` beside this executable (a build folder or an install's bin), else on PATH.
    static func executable(_ name: String) throws -> URL {
        let own = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let beside = own.deletingLastPathComponent().appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw ValidationError("\(name) is neither beside \(own.path) nor on PATH (build it with `swift build`)")
    }
}
