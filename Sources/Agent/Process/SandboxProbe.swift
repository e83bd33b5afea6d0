import Foundation
import Logging

/// Decides at start-up whether this agent confines Manim, by running the
/// sandbox once for real: bubblewrap, then the per-task isolation inside it.
enum SandboxProbe {
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    static func choose(_ configuration: AgentConfiguration, shim: String, logger: Logger) async throws -> Sandbox? {
        guard configuration.sandbox != .off else {
            logger.warning("sandbox off: scripts run as the agent's user, with its files and network")
            return nil
        }
        let workRoot = configuration.workDirectory.standardizedFileURL
        let shimFolder = URL(fileURLWithPath: shim).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: workRoot, withIntermediateDirectories: true)
            guard let sandbox = Sandbox.make(python: configuration.python, shimFolder: shimFolder.path, workRoot: workRoot)
            else { throw Unavailable(description: "bwrap is not installed (Debian: apt-get install bubblewrap)") }
            try await probe(sandbox, python: configuration.python, shimFolder: shimFolder, workRoot: workRoot)
            logger.info("renders run sandboxed", metadata: ["bwrap": "\(sandbox.bwrap)"])
            return sandbox
        } catch {
            if configuration.sandbox == .on { throw error }
            logger.critical("sandbox unavailable: scripts run UNCONFINED as the agent's user", metadata: ["why": "\(error)"])
            return nil
        }
    }

    private static func probe(_ sandbox: Sandbox, python: String, shimFolder: URL, workRoot: URL) async throws {
        let task = workRoot.appendingPathComponent("sandbox-probe-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: task, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: task) }
        let command = sandbox.command(python, [shimFolder.appendingPathComponent("farm_sandbox.py").path, "probe", task.path])
        let (status, output) = try await run(command.executable, command.arguments)
        guard status == 0, output.contains("sandbox ok") else {
            throw Unavailable(description: "the sandbox probe failed (\(status)): \(output.suffix(400))")
        }
    }

    /// Runs a short command on a thread of its own; its exit status and output.
    private static func run(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.environment = Sandbox.environment(path: "/usr/local/bin:/usr/bin:/bin")
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                    let output = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    continuation.resume(returning: (process.terminationStatus, String(decoding: output, as: UTF8.self)))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.start()
        }
    }
}
