import Coordinator
import FarmStorage
import Foundation
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
    let http: URL
    let zmq: String
    private(set) var coordinator: Process
    private(set) var agents: [Process] = []

    /// Starts a coordinator and one agent per entry of `agents` (extra arguments each).
    init(agents agentArguments: [[String]], coordinatorArguments: [String] = []) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("farm-e2e-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let ready = directory.appendingPathComponent("ready.json")
        coordinator = try Self.launch("farm-coordinator", [
            "--zmq", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0", "--data-dir", directory.appendingPathComponent("coordinator").path,
            "--ready-file", ready.path, "--lease-seconds", "3",
        ] + coordinatorArguments, log: directory.appendingPathComponent("coordinator.log"))
        var endpoints: [String: String] = [:]
        for _ in 0..<300 {
            if let data = try? Data(contentsOf: ready), let parsed = try? JSONDecoder().decode([String: String].self, from: data) {
                endpoints = parsed
                break
            }
            guard coordinator.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let httpText = endpoints["http"], let url = URL(string: httpText), let zmq = endpoints["zmq"] else {
            coordinator.terminate()
            throw HarnessError("the coordinator did not start; see \(directory.path)/coordinator.log")
        }
        http = url
        self.zmq = zmq
        for (index, extra) in agentArguments.enumerated() {
            try startAgent(index: index, extra: extra)
        }
        try await waitForAgents(agentArguments.count)
    }

    func startAgent(index: Int, extra: [String] = []) throws {
        let agent = try Self.launch("farm-agent", [
            "--coordinator", zmq, "--id", "agent-\(index)", "--python", Self.python,
            "--work-dir", directory.appendingPathComponent("agent-\(index)").path,
        ] + extra, log: directory.appendingPathComponent("agent-\(index).log"))
        agents.append(agent)
    }

    func waitForAgents(_ count: Int) async throws {
        for _ in 0..<200 {
            if let list: [AgentStatus] = try? await get("/v1/agents"), list.count >= count { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("agents did not register; see \(directory.path)")
    }

    deinit {
        for process in agents + [coordinator] where process.isRunning {
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

    func send(_ method: String, _ path: String, body: Data? = nil) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: URL(string: path, relativeTo: http)!)
        request.httpMethod = method
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
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
            let status: VideoStatus = try await get("/v1/videos/\(id)")
            if status.state.isFinal { return status }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw HarnessError("video \(id) did not finish within \(timeout); see \(directory.path)")
    }

    /// Runs the `farm` CLI; returns its exit status and output.
    func cli(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaries).appendingPathComponent("farm")
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    private static func launch(_ name: String, _ arguments: [String], log: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaries).appendingPathComponent(name)
        process.arguments = arguments
        FileManager.default.createFile(atPath: log.path, contents: nil)
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
