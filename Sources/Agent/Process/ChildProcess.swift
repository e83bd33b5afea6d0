import Foundation
import CPosix
import Glibc

/// A running Manim: where its frames and log arrive, how to stop it, how it ended.
/// All calls block; use them from a dedicated thread.
protocol ManimProcess: AnyObject, Sendable {
    /// Read end of the frame stream.
    var stdout: Int32 { get }
    /// Read end of Manim's log.
    var stderr: Int32 { get }
    /// Sends `signal` to the process's whole group (Manim, LaTeX, dvisvgm).
    func signalGroup(_ signal: Int32)
    /// Waits for the process to end.
    func wait() -> ChildProcess.Termination
}

/// A subprocess in its own process group, with its stdout and stderr piped back.
///
/// Spawned with `posix_spawn` so that the child leads a new process group:
/// killing the group stops Manim and anything it started (LaTeX, dvisvgm).
/// All calls block; use them from a dedicated thread.
final class ChildProcess: ManimProcess, @unchecked Sendable {
    let pid: pid_t
    /// Read ends of the child's stdout and stderr; owned by this object.
    let stdout: Int32
    let stderr: Int32

    /// How a child ended.
    enum Termination: Equatable, Sendable {
        case exited(Int32)
        case signalled(Int32)
    }

    struct SpawnError: Error, CustomStringConvertible {
        let code: Int32
        let executable: String
        var description: String { "could not start \(executable): \(String(cString: strerror(code)))" }
    }

    /// Starts `executable`. With `control`, that descriptor becomes the child's
    /// fd 3 and the child's output goes to this process's stderr instead of pipes.
    /// Otherwise `inherit`ed descriptors become the child's fds 3, 4, ….
    init(executable: String, arguments: [String], environment: [String: String], workingDirectory: String,
         control: Int32? = nil, inherit: [Int32] = []) throws {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe2(&outPipe, O_CLOEXEC) == 0 else { throw SpawnError(code: errno, executable: executable) }
        guard pipe2(&errPipe, O_CLOEXEC) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw SpawnError(code: errno, executable: executable)
        }
        _ = farm_widen_pipe(outPipe[0])  // the frame stream
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let control {
            posix_spawn_file_actions_adddup2(&actions, 2, 1)
            posix_spawn_file_actions_adddup2(&actions, control, 3)
        } else {
            posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
            posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
            for (index, fd) in inherit.enumerated() {
                posix_spawn_file_actions_adddup2(&actions, fd, Int32(3 + index))
            }
        }
        posix_spawn_file_actions_addchdir_np(&actions, workingDirectory)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        guard status == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw SpawnError(code: status, executable: executable)
        }
        self.pid = pid
        self.stdout = outPipe[0]
        self.stderr = errPipe[0]
    }

    deinit {
        close(stdout)
        close(stderr)
    }

    /// Sends `signal` to the child's whole process group.
    func signalGroup(_ signal: Int32) {
        kill(-pid, signal)
    }

    /// Waits for the child to end and reaps it.
    func wait() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros; decode the status word directly.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    /// Reads exactly `count` bytes into `buffer` from `fd`; false at end of file.
    static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawPointer, count: Int) -> Bool {
        var done = 0
        while done < count {
            let n = read(fd, buffer + done, count - done)
            if n > 0 {
                done += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }
}
