import Coordinator
import FarmModel
import FarmStorage
import Foundation
import ZeroMQ
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real farm for tests: a `farm-coordinator` process and `farm-agent`
/// processes talking over ZeroMQ on loopback, driven over HTTP.
final class FarmHarness: @unchecked Sendable {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let binaries = ProcessInfo.processInfo.environment["FARM_BIN_DIR"]
        ?? repository.appendingPathComponent(".build/debug").path
    static let python = ProcessInfo.processInfo.environment["FARM_PYTHON"]
        ?? repository.appendingPathComponent(".venv/bin/python").path
    static let example = repository.appendingPathComponent("examples/lesson.py")

    let directory: URL
    private(set) var http: URL
    private(set) var zmq: String
    private(set) var coordinator: Process
    private(set) var agents: [Process] = []
    private let coordinatorArguments: [String]
    /// Added to every process's environment.
    private let environment: [String: String]
    private var coordinatorRuns = 0
    /// A second coordinator on the same PostgreSQL database, waiting to take over.
    private(set) var standby: (process: Process, http: Int, zmq: String)?

    /// Starts a coordinator and one agent per entry of `agents` (extra arguments each).
    /// `standbyOwnFolder`: the standby keeps its own data folder (another host's), sharing only the
    /// store given in `coordinatorArguments`, the coordinator's CURVE key and the admitted agents' keys.
    init(agents agentArguments: [[String]], leaseSeconds: Double = 3, coordinatorArguments: [String] = [],
         standby: Bool = false, standbyOwnFolder: Bool = false, environment: [String: String] = [:]) async throws {
        self.environment = environment
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("farm-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.coordinatorArguments = ["--data-dir", directory.appendingPathComponent("coordinator").path,
                                     "--lease-seconds", String(leaseSeconds)] + coordinatorArguments
        (coordinator, http, zmq) = try await Self.startCoordinator(
            in: directory, run: 0, environment: environment, arguments: self.coordinatorArguments + ["--zmq", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0"])
        if standby {
            let (httpPort, zmqPort) = (try Self.freePort(), try Self.freePort())
            let endpoint = "tcp://127.0.0.1:\(zmqPort)"
            var arguments = self.coordinatorArguments
            if standbyOwnFolder {
                let keys = directory.appendingPathComponent("coordinator/keys")
                arguments[1] = directory.appendingPathComponent("coordinator-standby").path  // after --data-dir
                arguments += ["--secret-key-file", keys.appendingPathComponent("coordinator.key").path,
                              "--authorized-agents", keys.appendingPathComponent("authorized_agents").path]
            }
            let process = try Self.launch("farm-coordinator", arguments + [
                "--zmq", endpoint, "--http", "127.0.0.1:\(httpPort)",
                "--ready-file", directory.appendingPathComponent("ready-standby.json").path,
            ], log: directory.appendingPathComponent("coordinator-standby.log"), environment: environment)
            self.standby = (process, httpPort, endpoint)
        }
        for (index, extra) in agentArguments.enumerated() {
            try startAgent(index: index, extra: extra)
        }
        try await waitForAgents(agentArguments.count)
    }

    private static func startCoordinator(in directory: URL, run: Int, environment: [String: String] = [:],
                                         arguments: [String]) async throws -> (Process, URL, String) {
        let ready = directory.appendingPathComponent("ready-\(run).json")
        let process = try launch("farm-coordinator", arguments + ["--ready-file", ready.path],
                                 log: directory.appendingPathComponent("coordinator-\(run).log"), environment: environment)
        for _ in 0..<300 {
            if let data = try? Data(contentsOf: ready), let parsed = try? JSONDecoder().decode([String: String].self, from: data),
               let httpText = parsed["http"], let url = URL(string: httpText), let zmq = parsed["zmq"] {
                return (process, url, zmq)
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw HarnessError("the coordinator did not start; see \(directory.path)/coordinator-\(run).log")
    }

    /// Kills the coordinator with SIGKILL.
    func killCoordinator() {
        kill(coordinator.processIdentifier, SIGKILL)
        coordinator.waitUntilExit()
    }

    /// Starts a new coordinator on the same data folder and the same ports; `overriding` options (given
    /// after the first ones, so they win) change what it runs on, for example another database.
    func restartCoordinator(overriding: [String] = []) async throws {
        coordinatorRuns += 1
        let port = http.port ?? 0
        (coordinator, http, zmq) = try await Self.startCoordinator(
            in: directory, run: coordinatorRuns, environment: environment,
            arguments: coordinatorArguments + overriding + ["--zmq", zmq, "--http", "127.0.0.1:\(port)"])
    }

    /// Stops every agent with SIGKILL.
    func killAgents() {
        for agent in agents where agent.isRunning {
            kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
        }
    }

    /// After the leader is killed: waits for the standby to take over and serve.
    func awaitStandbyTakeover(timeout: Duration = .seconds(30)) async throws {
        guard let standby else { throw HarnessError("no standby was started") }
        let ready = directory.appendingPathComponent("ready-standby.json")
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if FileManager.default.fileExists(atPath: ready.path) {
                coordinator = standby.process
                http = URL(string: "http://127.0.0.1:\(standby.http)")!
                zmq = standby.zmq
                return
            }
            guard standby.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("the standby did not take over; see \(directory.path)/coordinator-standby.log")
    }

    /// A TCP port nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Sends `signal` to agent `index`.
    func signalAgent(_ index: Int, _ signal: Int32) {
        kill(agents[index].processIdentifier, signal)
    }

    /// Counters of the running coordinator.
    func stats() async throws -> FarmStats {
        try await get("/v1/stats")
    }

    /// Polls a video until `condition` holds for it.
    func waitFor(_ id: String, timeout: Duration = .seconds(120), _ condition: (VideoStatus) -> Bool) async throws -> VideoStatus {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status: VideoStatus = try? await get("/v1/videos/\(id)") {
                if condition(status) { return status }
                if status.state.isFinal { throw HarnessError("video \(id) ended as \(status.state) while waiting: \(status.error ?? "")") }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("condition not met for video \(id) within \(timeout); see \(directory.path)")
    }

    func startAgent(index: Int, extra: [String] = []) throws {
        let endpoints = [zmq] + (standby.map { [$0.zmq] } ?? [])
        let agent = try Self.launch("farm-agent", [
            "--coordinator", endpoints.joined(separator: ","), "--id", "agent-\(index)", "--python", Self.python,
            "--work-dir", directory.appendingPathComponent("agent-\(index)").path,
            "--enroll", keysFolder.path, "--key-file", directory.appendingPathComponent("agent-\(index).key").path,
        ] + extra, log: directory.appendingPathComponent("agent-\(index)-\(agents.count).log"), environment: environment)
        agents.append(agent)
    }

    /// The coordinator's CurveZMQ keys folder.
    var keysFolder: URL { directory.appendingPathComponent("coordinator/keys") }

    /// Security for a hand-driven agent socket: a fresh key pair, admitted unless `admitted` is false.
    func curveClient(admitted: Bool = true) throws -> SocketSecurity {
        let (publicKey, secretKey) = try CurveKeys.generate()
        if admitted { try AuthorizedKeys.add(publicKey, name: "test-client", to: keysFolder.appendingPathComponent("authorized_agents")) }
        let serverKey = try CurveKeys.publicKey(argument: "@" + keysFolder.appendingPathComponent("coordinator.pub").path)
        return .curveClient(serverKey: serverKey, publicKey: publicKey, secretKey: secretKey)
    }

    func waitForAgents(_ count: Int) async throws {
        for _ in 0..<200 {
            if let list: [AgentStatus] = try? await get("/v1/agents"), list.count >= count { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("agents did not register; see \(directory.path)")
    }

    deinit {
        for process in agents + [coordinator] + (standby.map { [$0.process] } ?? []) where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["FARM_KEEP_TEST_DATA"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
    }

    // MARK: HTTP

    func submit(_ request: SubmitRequest) async throws -> (status: Int, body: Data) {
        try await send("POST", "/v1/videos", body: JSONEncoder().encode(request))
    }

    func get<T: Decodable>(_ path: String) async throws -> T {
        let (status, body) = try await send("GET", path)
        guard status == 200 else { throw HarnessError("GET \(path): \(status) \(String(decoding: body, as: UTF8.self))") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: body)
    }

    /// Sends a request with the first admin's API key (or `apiKey`; `""` for none).
    func send(_ method: String, _ path: String, body: Data? = nil, apiKey: String? = nil) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: URL(string: path, relativeTo: http)!)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let key = try apiKey ?? adminKey
        if !key.isEmpty { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// The key the coordinator wrote for its first admin when it started on an empty store.
    var adminKey: String {
        get throws {
            let file = directory.appendingPathComponent("coordinator/keys/admin.key")
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { throw HarnessError("no admin key at \(file.path)") }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    func decodeStatus(_ body: Data) throws -> VideoStatus {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(VideoStatus.self, from: body)
    }

    /// Polls until the video is final.
    func waitUntilFinal(_ id: String, timeout: Duration = .seconds(240)) async throws -> VideoStatus {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            // Tolerate a coordinator that is restarting.
            if let status: VideoStatus = try? await get("/v1/videos/\(id)"), status.state.isFinal { return status }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw HarnessError("video \(id) did not finish within \(timeout); see \(directory.path)")
    }

    /// Runs the `farm` CLI with the first admin's key (or `apiKey`; `""` for none); returns its exit status and output.
    func cli(_ arguments: [String], apiKey: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaries).appendingPathComponent("farm")
        process.arguments = arguments
        // The admin's key, and a configuration file of the test's own (never the user's ~/.config).
        var environment = ProcessInfo.processInfo.environment
        environment["FARM_API_KEY"] = try apiKey ?? adminKey
        environment["FARM_CONFIG"] = directory.appendingPathComponent("farm-config.json").path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    private static func launch(_ name: String, _ arguments: [String], log: URL, environment: [String: String] = [:]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaries).appendingPathComponent(name)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
