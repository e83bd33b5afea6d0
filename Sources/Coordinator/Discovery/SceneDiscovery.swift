import Foundation

/// A scene found in a script.
public struct DiscoveredScene: Codable, Sendable, Equatable {
    public var name: String
    /// Line of the class definition.
    public var line: Int
    /// Whether the scene (or code it may call) uses LaTeX-backed mobjects.
    public var requiresLaTeX: Bool
    /// Hash of the source the scene can depend on (not the other scenes' classes).
    public var fingerprint: String?
}

/// Why a script was refused.
public enum ScriptError: Error, Equatable, Sendable, CustomStringConvertible {
    case syntax(line: Int, column: Int, message: String)
    case noScenes
    case unknownScenes([String], available: [String])
    case duplicateScenes([String])
    case parserFailed(String)
    /// Parsing ran past its time limit (the parser also limits its own CPU and memory).
    case tooExpensive(seconds: Int)
    /// Every parser slot is taken and the queue for them is full: try again shortly.
    case parserBusy

    public var description: String {
        switch self {
        case .syntax(let line, let column, let message):
            "syntax error at line \(line), column \(column): \(message)"
        case .noScenes:
            "the script defines no Manim scene (a class deriving from Scene with a construct method)"
        case .unknownScenes(let names, let available):
            "unknown scene(s) \(names.joined(separator: ", ")); the script defines \(available.joined(separator: ", "))"
        case .duplicateScenes(let names):
            "scene(s) listed more than once: \(names.joined(separator: ", "))"
        case .parserFailed(let why):
            "could not parse the script: \(why)"
        case .tooExpensive(let seconds):
            "the script took longer than \(seconds) s (or more memory than allowed) to parse; split it or simplify it"
        case .parserBusy:
            "the coordinator is parsing too many scripts at once; try again shortly"
        }
    }
}

/// Finds a script's scenes by parsing it with Python's `ast` module in a
/// subprocess: the user's code is never imported or run by the coordinator.
///
/// Scripts come from strangers: the parser is linear in the script's size,
/// limits its own CPU time and memory, is killed after `timeout`, and at most
/// `gate`'s number of parses run at once, with a bounded queue behind them.
public struct SceneDiscovery: Sendable {
    /// The Python interpreter used for parsing (any Python 3.8+; Manim is not needed).
    public var python: String
    public var timeout: Duration
    private let gate: ParseGate

    public init(python: String = "python3", timeout: Duration = .seconds(15), concurrentParses: Int = 2,
                queuedParses: Int = 32) {
        self.python = python
        self.timeout = timeout
        gate = ParseGate(slots: concurrentParses, queueLimit: queuedParses)
    }

    /// The scenes of `script` in definition order.
    /// - Throws: `ScriptError.syntax` with the line of a syntax error, or
    ///   `ScriptError.noScenes`.
    public func scenes(in script: String) async throws -> [DiscoveredScene] {
        guard let helper = Bundle.module.url(forResource: "discover_scenes", withExtension: "py") else {
            throw ScriptError.parserFailed("discover_scenes.py is missing from the coordinator's resources")
        }
        let python = self.python, timeout = self.timeout
        guard await gate.enter() else { throw ScriptError.parserBusy }
        let output: Data
        do {
            output = try await offloaded {
                try Self.run(python: python, helper: helper.path, input: Data(script.utf8), timeout: timeout)
            }
            await gate.leave()
        } catch {
            await gate.leave()
            throw error
        }
        struct Reply: Decodable {
            struct Failure: Decodable { var line: Int; var column: Int; var message: String }
            var scenes: [DiscoveredScene]?
            var error: Failure?
        }
        let reply: Reply
        do {
            reply = try JSONDecoder().decode(Reply.self, from: output)
        } catch {
            throw ScriptError.parserFailed(String(decoding: output.prefix(500), as: UTF8.self))
        }
        if let failure = reply.error {
            throw ScriptError.syntax(line: failure.line, column: failure.column, message: failure.message)
        }
        guard let scenes = reply.scenes, !scenes.isEmpty else { throw ScriptError.noScenes }
        return scenes
    }

    /// Picks the scenes to render: all of them in file order, or `requested` in the order given.
    public static func select(_ requested: [String]?, from scenes: [DiscoveredScene]) throws -> [DiscoveredScene] {
        guard let requested, !requested.isEmpty else { return scenes }
        let unknown = requested.filter { name in !scenes.contains { $0.name == name } }
        guard unknown.isEmpty else { throw ScriptError.unknownScenes(unknown, available: scenes.map(\.name)) }
        let duplicates = Dictionary(grouping: requested, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        guard duplicates.isEmpty else { throw ScriptError.duplicateScenes(duplicates) }
        return requested.compactMap { name in scenes.first { $0.name == name } }
    }

    /// Runs a helper of the coordinator's with `input` on stdin, under a watchdog; its stdout.
    static func run(python: String, helper: String, input: Data, timeout: Duration) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-I", helper]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Feed stdin from another thread so a large script cannot deadlock against a full stdout pipe.
        let writer = Thread {
            // The watchdog may kill the parser mid-script: its closed stdin is then an error for this write,
            // not a SIGPIPE that ends the whole process (the signal stays with this thread and dies with it).
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            try? stdin.fileHandleForWriting.write(contentsOf: input)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        // The watchdog kills a parse that outlives its time; the pipe then closes and the read below ends.
        let pid = process.processIdentifier
        let finished = DispatchSemaphore(value: 0)
        let watchdog = Thread {
            let milliseconds = timeout.components.seconds * 1_000 + timeout.components.attoseconds / 1_000_000_000_000_000
            if finished.wait(timeout: .now() + .milliseconds(Int(milliseconds))) == .timedOut {
                kill(pid, SIGKILL)
            }
        }
        watchdog.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        finished.signal()
        if process.terminationReason == .uncaughtSignal {
            // SIGKILL from the watchdog, SIGXCPU or SIGKILL from the CPU limit.
            throw ScriptError.tooExpensive(seconds: max(Int(timeout.components.seconds), 1))
        }
        guard process.terminationStatus == 0 else {
            throw ScriptError.parserFailed("\(python) exited with status \(process.terminationStatus)")
        }
        return output
    }
}
