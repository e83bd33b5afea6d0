import FarmProtocol
import Foundation

/// How this agent runs Manim: which Python, which shim, which environment, and
/// whether tasks fork from a warm, pre-imported Manim or start cold.
struct RenderTools: Sendable {
    /// The Python of the virtual environment Manim is installed in.
    var python: String
    /// Path of `farm_shim.py`.
    var shim: String
    /// The render identity (Manim's version and the environment's fingerprint), reported with plans:
    /// part of every cache key, and the environment the video's render tasks are pinned to.
    var manimVersion: String
    /// Forks tasks from a pre-imported Manim; `nil` starts each task cold.
    var warm: WarmForkServer?
    /// Renders only sleep and emit blank frames (fleet benchmarks).
    var simulation: SimulatedRender?
    /// Where Manim runs; `nil` runs it as the agent's own user, unconfined.
    var sandbox: Sandbox?
    /// Where each task's control group is made; `nil` where this agent may not make them.
    var cgroups: TaskCgroup.Layout?
    /// Processes (threads included) one task may have.
    static let taskProcessLimit = 512

    /// Starts Manim for `assign`: a render of its scene (or range) or a planning pass (`lane` numbers the
    /// processes of a pass planned in lanes: each has its own control group and media folder).
    /// With a `ring`, frames come through it (`FrameRing`): its descriptors go to the process before the control groups'.
    func launch(_ assign: Assign, script: URL, directory: URL, lane: Int = 0, ring: FrameRing? = nil) throws -> any ManimProcess {
        if let simulation {
            return try SimulatedProcess(assign: assign, frameRate: assign.settings.quality.frameRate, settings: simulation)
        }
        let arguments = manimArguments(for: assign, script: script, directory: directory, lane: lane)
        var extra = ["FARM_MEMORY_LIMIT_BYTES": String(assign.limits.memoryBytes),
                     "FARM_FILE_LIMIT_BYTES": String(Self.fileLimitBytes)]
        if assign.taskKind == .plan { extra["FARM_PLAN"] = "1" }
        if sandbox != nil {
            extra["FARM_SANDBOX_TASK"] = directory.path
            extra["FARM_TMP_BYTES"] = String(Self.scratchBytes)
        }
        let cgroup = try cgroups.map {
            try TaskCgroup(layout: $0, name: directory.lastPathComponent + (lane == 0 ? "" : "-\(lane)"), pids: Self.taskProcessLimit,
                           memoryBytes: assign.limits.memoryBytes + Int64(Self.scratchBytes))
        }
        let ringDescriptors = ring?.childDescriptors ?? []
        let descriptors = ringDescriptors + (cgroup?.descriptors ?? [])
        if let warm {
            if ring != nil { extra["FARM_FRAME_RING"] = "1" }  // the first two descriptors after the child's pipes
            do {
                let process = try warm.spawn(arguments: arguments, environment: extra, workingDirectory: directory.path,
                                             descriptors: descriptors)
                return ConfinedProcess(process, cgroup: cgroup)
            } catch {
                // A broken server costs speed, not the task: start this one cold.
            }
        }
        extra["FARM_FRAME_RING"] = nil
        if ring != nil { extra["FARM_FRAME_RING_FDS"] = "3,4" }
        if let cgroup, !cgroup.descriptors.isEmpty {
            extra["FARM_CGROUP_FDS"] = cgroup.descriptors.indices.map { String(3 + ringDescriptors.count + $0) }.joined(separator: ",")
        }
        let command = sandbox?.command(python, [shim] + arguments) ?? (executable: python, arguments: [shim] + arguments)
        do {
            let process = try ChildProcess(
                executable: command.executable, arguments: command.arguments,
                environment: environment().merging(extra) { $1 }, workingDirectory: directory.path, inherit: descriptors)
            return ConfinedProcess(process, cgroup: cgroup)
        } catch {
            cgroup?.destroy()  // nothing joined it: just remove it
            throw error
        }
    }

    /// Largest file a render may write.
    static let fileLimitBytes = 1 << 30
    /// Size of a sandboxed task's private /tmp (its HOME and Manim's media folder live there).
    static let scratchBytes = 2 << 30

    func manimArguments(for assign: Assign, script: URL, directory: URL, lane: Int = 0) -> [String] {
        let scenes = assign.taskKind == .plan ? (assign.scenes ?? [assign.scene]) : [assign.scene]
        var arguments = ["render", script.path] + scenes + [
            "--quality", assign.settings.quality.manimFlag,
            "--seed", String(assign.settings.seed),
            "--disable_caching",
            // No network: Manim otherwise asks PyPI for a newer version after each render.
            "--silent",
            "--progress_bar", "none",
            // Sandboxed, the task folder is read-only: Manim's files go to the task's private /tmp.
            "--media_dir", sandbox == nil ? directory.appendingPathComponent(lane == 0 ? "media" : "media-\(lane)").path : "/tmp/media",
        ]
        if assign.taskKind == .plan {
            arguments += ["-n", "1000000000"]  // skip every animation: construct() runs, nothing is drawn
        } else if let range = assign.animations {
            arguments += ["-n", "\(range.first),\(range.last)"]
        }
        return arguments
    }

    /// The environment every Manim process starts with: sandboxed, nothing of the agent's.
    func environment() -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        if sandbox != nil { return Sandbox.environment(path: inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") }
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
