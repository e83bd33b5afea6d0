import Foundation

/// How an agent runs.
public struct AgentConfiguration: Sendable {
    /// ZeroMQ endpoints of the coordinator and its standbys, for example
    /// `tcp://coordinator:5555`; the agent moves to the next when one goes silent.
    public var coordinators: [String]
    /// Renders run at once.
    public var slots: Int
    /// Scratch space for scripts, logs and Manim's media folder.
    public var workDirectory: URL
    /// The Python of the virtual environment Manim is installed in.
    public var python: String
    /// Stable identity across restarts and reconnects.
    public var agentID: String
    public var hostname: String
    /// The cloud instance this agent runs on (`$FARM_INSTANCE_ID`), so the
    /// coordinator can scale its group in without touching busy agents.
    public var instanceID: String? = ProcessInfo.processInfo.environment["FARM_INSTANCE_ID"]
    /// Whether to advertise LaTeX; detected from PATH when `nil`.
    public var hasLaTeX: Bool?
    /// On SIGTERM, how long running renders may take to finish before they are handed back.
    public var drainGrace: Duration = .seconds(30)
    /// Fork each task from a pre-imported Manim instead of starting Python cold.
    public var warmWorkers = true
    /// Whether Manim runs in the bubblewrap sandbox.
    public var sandbox: SandboxMode = .auto
    /// CurveZMQ keys: the coordinator's public key this agent pins, and its own pair.
    /// `nil` speaks the plain protocol (only to a coordinator started without CURVE).
    public var curve: AgentCurve?
    /// Replace Manim with a renderer that sleeps for the planned run time and
    /// emits blank frames: for benchmarking the coordinator with large fleets.
    public var simulatedRender: SimulatedRender?
    /// Without a message from the coordinator for this long, register again.
    public var coordinatorTimeout: Duration = .seconds(5)

    public init(coordinators: [String], slots: Int, workDirectory: URL, python: String? = nil, agentID: String? = nil) {
        self.coordinators = coordinators
        self.slots = max(slots, 1)
        self.workDirectory = workDirectory
        self.python = python ?? Self.defaultPython()
        let host = ProcessInfo.processInfo.hostName
        self.hostname = host
        self.agentID = agentID ?? "\(host)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// `$FARM_PYTHON`, else the project's `.venv` found from the working
    /// directory or the executable's folder upwards, else `python3`.
    public static func defaultPython() -> String {
        if let explicit = ProcessInfo.processInfo.environment["FARM_PYTHON"] { return explicit }
        let starts = [FileManager.default.currentDirectoryPath,
                      URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path]
        for start in starts {
            var folder = URL(fileURLWithPath: start)
            while folder.path != "/" {
                let candidate = folder.appendingPathComponent(".venv/bin/python")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate.path }
                folder.deleteLastPathComponent()
            }
        }
        return "python3"
    }

    /// Whether `latex` and `dvisvgm` are on PATH (Manim's TeX pipeline needs both).
    public static func detectLaTeX() -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        func found(_ tool: String) -> Bool {
            path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
        }
        return found("latex") && found("dvisvgm")
    }
}

/// Whether an agent confines Manim (see `Sandbox`).
public enum SandboxMode: String, Sendable, CaseIterable {
    /// Confined when bubblewrap is installed and works here; otherwise a loud warning.
    case auto
    /// Confined, or the agent refuses to start.
    case on
    /// Unconfined: only for trusted scripts.
    case off
}

/// An agent's CurveZMQ identity and the coordinator key it trusts.
public struct AgentCurve: Sendable {
    public var coordinatorKey: String
    public var publicKey: String
    public var secretKey: String

    public init(coordinatorKey: String, publicKey: String, secretKey: String) {
        self.coordinatorKey = coordinatorKey
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}
