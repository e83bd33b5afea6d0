import FarmProtocol
import Foundation

/// How this agent runs Manim: which Python, which shim, which environment, and
/// whether tasks fork from a warm, pre-imported Manim or start cold.
struct RenderTools: Sendable {
    /// The Python of the virtual environment Manim is installed in.
    var python: String
    /// Path of `farm_shim.py`.
    var shim: String
    /// The installed Manim's version, reported with plans (part of cache keys).
    var manimVersion: String
    /// Forks tasks from a pre-imported Manim; `nil` starts each task cold.
    var warm: WarmForkServer?
    /// Renders only sleep and emit blank frames (fleet benchmarks).
    var simulation: SimulatedRender?

    /// Starts Manim for `assign`: a render of its scene (or range) or a planning pass.
    func launch(_ assign: Assign, script: URL, directory: URL) throws -> any ManimProcess {
        if let simulation {
            return try SimulatedProcess(assign: assign, frameRate: assign.settings.quality.frameRate, settings: simulation)
        }
        let arguments = manimArguments(for: assign, script: script, directory: directory)
        var extra = ["FARM_MEMORY_LIMIT_BYTES": String(assign.limits.memoryBytes)]
        if assign.taskKind == .plan { extra["FARM_PLAN"] = "1" }
        if let warm {
            do {
                return try warm.spawn(arguments: arguments, environment: extra, workingDirectory: directory.path)
            } catch {
                // A broken server costs speed, not the task: start this one cold.
            }
        }
        return try ChildProcess(
            executable: python, arguments: [shim] + arguments,
            environment: environment().merging(extra) { $1 }, workingDirectory: directory.path)
    }

    func manimArguments(for assign: Assign, script: URL, directory: URL) -> [String] {
        let scenes = assign.taskKind == .plan ? (assign.scenes ?? [assign.scene]) : [assign.scene]
        var arguments = ["render", script.path] + scenes + [
            "--quality", assign.settings.quality.manimFlag,
            "--seed", String(assign.settings.seed),
            "--disable_caching",
            // No network: Manim otherwise asks PyPI for a newer version after each render.
            "--silent",
            "--progress_bar", "none",
            "--media_dir", directory.appendingPathComponent("media").path,
        ]
        if assign.taskKind == .plan {
            arguments += ["-n", "1000000000"]  // skip every animation: construct() runs, nothing is drawn
        } else if let range = assign.animations {
            arguments += ["-n", "\(range.first),\(range.last)"]
        }
        return arguments
    }

    /// The environment every Manim process starts with.
    func environment() -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment: [String: String] = [
            "PATH": inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": inherited["HOME"] ?? "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
        ]
        for key in ["TMPDIR", "TEXMFHOME", "TEXMFVAR"] { environment[key] = inherited[key] }
        return environment.compactMapValues { $0 }
    }
}
