import Agent
import ArgumentParser
import Coordinator
import Foundation
import Logging
import ServiceLifecycle
import ZeroMQ

struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an embedded farm: a coordinator (SQLite, local storage) and local agents in one process.")

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

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        guard let colon = http.lastIndex(of: ":"), let port = Int(http[http.index(after: colon)...]) else {
            throw ValidationError("--http must be HOST:PORT")
        }
        let host = String(http[..<colon])
        guard let sandboxMode = SandboxMode(rawValue: sandbox) else { throw ValidationError("--sandbox takes auto, on or off") }
        let data = URL(fileURLWithPath: dataDir, isDirectory: true)
        var configuration = CoordinatorServer.Configuration(dataDirectory: data.appendingPathComponent("coordinator"))
        configuration.httpHost = host
        configuration.httpPort = port
        configuration.zmqEndpoints = [zmq]
        configuration.metrics = CoordinatorServer.bootstrapMetrics()
        configuration.engine.minimumPieceSeconds = minimumPieceSeconds
        let context = try ZMQContext()
        let logger = Logger(label: "farm")
        let server = CoordinatorServer(configuration: configuration, logger: logger)
        let (_, coordinatorServices) = try await server.services(context: context) { httpPort, endpoints in
            print("farm up: http://\(host):\(httpPort)  agents: \(endpoints.joined(separator: ", "))")
        }
        // Local agents get keys of their own, admitted in the coordinator's keys folder: nothing to set up by hand.
        let keys = CoordinatorKeys.folder(dataDirectory: configuration.engine.dataDirectory)
        let agentServices: [any Service] = try (0..<agents).map { index in
            let id = "\(ProcessInfo.processInfo.hostName)-local-\(index + 1)"
            var agent = AgentConfiguration(
                coordinators: [zmq], slots: slots,
                workDirectory: data.appendingPathComponent("agent-\(index + 1)"), python: python, agentID: id)
            agent.drainGrace = .seconds(5)
            agent.warmWorkers = warmWorkers
            agent.sandbox = sandboxMode
            agent.curve = try AgentEnrollment.enrollLocally(
                keysFolder: keys, keyFile: keys.appendingPathComponent("local-agent-\(index + 1).key"), name: id)
            return AgentService(configuration: agent, context: context, logger: Logger(label: "farm.agent.\(index + 1)"))
        }
        let group = ServiceGroup(configuration: .init(
            services: (coordinatorServices + agentServices).map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
