import FarmProtocol
import Foundation

/// How this agent runs Manim: which Python, which shim, which environment.
struct RenderTools: Sendable {
    /// The Python of the virtual environment Manim is installed in.
    var python: String
    /// Path of `farm_shim.py`.
    var shim: String

    func arguments(for assign: Assign, script: URL, directory: URL) -> [String] {
        [
            shim, "render", script.path, assign.scene,
            "--quality", assign.settings.quality.manimFlag,
            "--seed", String(assign.settings.seed),
            "--disable_caching",
            // No network: Manim otherwise asks PyPI for a newer version after each render.
            "--silent",
            "--progress_bar", "none",
            "--media_dir", directory.appendingPathComponent("media").path,
        ]
    }

    func environment(memoryBytes: Int64) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment: [String: String] = [
            "PATH": inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": inherited["HOME"] ?? "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "FARM_MEMORY_LIMIT_BYTES": String(memoryBytes),
        ]
        for key in ["TMPDIR", "TEXMFHOME", "TEXMFVAR"] { environment[key] = inherited[key] }
        return environment.compactMapValues { $0 }
    }
}
