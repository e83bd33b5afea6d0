import Foundation

/// The bubblewrap sandbox every Manim process runs in: the warm fork server
/// (whose forks then isolate themselves per task, see `farm_sandbox.py`) and
/// cold renders.
///
/// Inside: no network (a network namespace with only loopback), its own PID,
/// IPC and UTS namespaces, a user namespace whose only user is unprivileged
/// uid 1000, a read-only view of the system directories, the Manim
/// environment, TeX and the shim, the agent's work folder read-only (each
/// task then sees only its own folder), and an empty environment but for
/// the few variables `RenderTools` sets. The agent's home, configuration,
/// credentials and other processes are not there. `--die-with-parent` ties
/// the sandbox to the agent's life.
struct Sandbox: Sendable {
    /// The `bwrap` executable.
    var bwrap: String
    /// Folders and files bound read-only at their own paths.
    var readOnly: [String]
    /// The agent's work folder: task folders live under it.
    var workRoot: String

    /// System paths a Manim render reads: programs and libraries, fonts and
    /// their configuration, TeX, the dynamic loader's cache.
    static let systemPaths = [
        "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc/fonts", "/etc/ld.so.cache", "/etc/alternatives",
        "/etc/texmf", "/var/lib/texmf", "/var/cache/fontconfig", "/etc/localtime",
    ]

    /// A sandbox for `python` (a virtual environment's interpreter) and the
    /// shim in `shimFolder`, or `nil` without `bwrap` on the `PATH`.
    static func make(python: String, shimFolder: String, workRoot: URL) -> Sandbox? {
        guard let bwrap = Self.find("bwrap") else { return nil }
        // The interpreter, its virtual environment and the installation it was made from.
        let interpreter = URL(fileURLWithPath: python)
        let environment = interpreter.deletingLastPathComponent().deletingLastPathComponent().path
        let resolved = interpreter.resolvingSymlinksInPath()
        let installation = resolved.deletingLastPathComponent().deletingLastPathComponent().path
        let paths = Self.systemPaths + [environment, installation, shimFolder]
        return Sandbox(bwrap: bwrap, readOnly: Array(Set(paths)).sorted(), workRoot: workRoot.path)
    }

    /// The command line that runs `executable` with `arguments` in the sandbox.
    func command(_ executable: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        var wrapped = [
            // Every namespace but the cgroup one: the task must be able to join its control groups.
            "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--die-with-parent", "--new-session", "--uid", "1000", "--gid", "1000",
            "--hostname", "render",
        ]
        wrapped += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/run/farm"]
        for path in readOnly {
            wrapped += ["--ro-bind-try", path, path]
        }
        wrapped += [
            "--ro-bind", workRoot, workRoot,
            "--chdir", "/",
            "--", executable,
        ]
        return (bwrap, wrapped + arguments)
    }

    /// The environment a sandboxed process starts with: nothing of the agent's.
    static func environment(path: String) -> [String: String] {
        [
            "PATH": path, "HOME": "/tmp/home", "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
        ]
    }

    private static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
