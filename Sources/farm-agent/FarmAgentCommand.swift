import Agent
import ArgumentParser
import FarmLogging
import FarmTracing
import Foundation
import Logging
import ServiceLifecycle
import ZeroMQ

@main
struct FarmAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm-agent",
        abstract: "Run a ManimFarm render agent. SIGTERM drains it: running renders finish or are handed back.")

    @Option(help: "The coordinator's ZeroMQ endpoint; several, comma-separated, for a coordinator with standbys.")
    var coordinator = "tcp://127.0.0.1:5555"

    @Option(help: "Renders run at once.")
    var slots = 1

    @Option(help: "Scratch folder for renders.")
    var workDir = "farm-agent-work"

    @Option(help: "Python of the virtual environment with Manim (default: $FARM_PYTHON or the nearest .venv).")
    var python: String?

    @Option(help: "Stable agent identity (default: hostname plus a random suffix).")
    var id: String?

    @Option(help: "Advertise LaTeX support: yes, no or auto (detect latex and dvisvgm on PATH).")
    var latex = "auto"

    @Option(help: "Seconds a draining agent lets running renders finish before handing them back.")
    var drainGrace = 30

    @Flag(inversion: .prefixedNo, help: "Fork each task from a pre-imported Manim (saves ~2 CPU-seconds of start-up per task).")
    var warmWorkers = true

    @Option(help: "The coordinator's CurveZMQ public key, or @FILE holding it (its data folder's keys/coordinator.pub).")
    var coordinatorKey: String?

    @Option(help: "This agent's CurveZMQ secret key file; created (mode 0600) if missing, its public key logged.")
    var keyFile = "farm-agent.key"

    @Option(help: "Same-host setups only: the coordinator's keys folder; pins its key and admits this agent's key there.")
    var enroll: String?

    @Flag(help: "Speak plain ZeroMQ (only to a coordinator started with --insecure-plain-zmq; tests and trusted networks).")
    var insecurePlainZmq = false

    @Option(help: "Run Manim in the bubblewrap sandbox: auto (when bwrap works here), on (or refuse to start) or off (trusted scripts only).")
    var sandbox = "auto"

    @Option(help: ArgumentHelp(
        "Benchmarks only: do not run Manim; sleep this many seconds per second of video, then emit blank frames.",
        valueName: "seconds"))
    var simulateRender: Double?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "text (for terminals) or json (one object per line, for log stores); default $FARM_LOG_FORMAT, else text.")
    var logFormat: String?

    @Option(help: "Send traces to this OpenTelemetry collector (OTLP/HTTP, e.g. http://127.0.0.1:4318); default $OTEL_EXPORTER_OTLP_ENDPOINT, else off.")
    var otlpEndpoint: String?

    func run() async throws {
        // A peer that closes its end of a pipe or socket (a child killed mid-write, a client gone) is an
        // error for that write, never a signal that ends the process. Children get the default back.
        signal(SIGPIPE, SIG_IGN)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        guard let format = LogFormat.resolve(logFormat) else { throw ValidationError("--log-format takes text or json") }
        var configuration = AgentConfiguration(
            coordinators: coordinator.split(separator: ",").map(String.init), slots: slots, workDirectory: URL(fileURLWithPath: workDir, isDirectory: true),
            python: python, agentID: id)
        // Every line names the agent, so a coordinator's line about a task finds the agent's lines about it.
        format.bootstrap(service: "agent", level: level, fields: ["agent": .string(configuration.agentID)])
        let tracer = try TraceExport.bootstrap(endpoint: otlpEndpoint, service: "manimfarm-agent",
                                                       attributes: ["service.instance.id": configuration.agentID])
        switch latex {
        case "yes": configuration.hasLaTeX = true
        case "no": configuration.hasLaTeX = false
        case "auto": configuration.hasLaTeX = nil
        default: throw ValidationError("--latex takes yes, no or auto")
        }
        configuration.drainGrace = .seconds(drainGrace)
        configuration.warmWorkers = warmWorkers
        guard let mode = SandboxMode(rawValue: sandbox) else { throw ValidationError("--sandbox takes auto, on or off") }
        configuration.sandbox = mode
        let keyFile = URL(fileURLWithPath: self.keyFile)
        if let enroll {
            configuration.curve = try AgentEnrollment.enrollLocally(
                keysFolder: URL(fileURLWithPath: enroll, isDirectory: true), keyFile: keyFile, name: configuration.agentID)
        } else if let coordinatorKey {
            configuration.curve = try AgentEnrollment.curve(coordinatorKey: try CurveKeys.publicKey(argument: coordinatorKey),
                                                            keyFile: keyFile)
        } else if !insecurePlainZmq {
            throw ValidationError("give --coordinator-key (the coordinator's public key, in its data folder's keys/coordinator.pub), "
                + "--enroll KEYS_FOLDER on the coordinator's host, or --insecure-plain-zmq")
        }
        if let curve = configuration.curve {
            let admission = enroll.map { "admitted in \($0)" } ?? "admit it with `farm-coordinator agents add \(curve.publicKey)`"
            Logger(label: "farm.agent").notice("agent key", metadata: ["publicKey": "\(curve.publicKey)", "admission": "\(admission)"])
        }
        if let simulateRender {
            guard simulateRender >= 0 else { throw ValidationError("--simulate-render takes seconds ≥ 0") }
            configuration.simulatedRender = SimulatedRender(secondsPerVideoSecond: simulateRender)
        }
        let logger = Logger(label: "farm.agent")
        let agent = AgentService(configuration: configuration, context: try ZMQContext(), logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: agent)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await tracer?.flush()
    }
}
