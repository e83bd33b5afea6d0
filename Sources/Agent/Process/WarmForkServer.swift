import CPosix
import Foundation
import Glibc
import Synchronization

/// A Python process with Manim already imported that forks a fresh child per
/// task (`farm_shim.py serve`): each render keeps its own process, but pays
/// the ~2 CPU-seconds of Python start-up and `import manim` once per agent
/// instead of once per task.
///
/// Requests travel over a `SOCK_SEQPACKET` socket pair with the child's frame
/// and log pipes attached (`SCM_RIGHTS`); the server answers with the child's
/// pid and, when it ends, its wait status. A server that dies takes its
/// children with it; the next spawn starts a new server.
final class WarmForkServer: Sendable {
    struct ServerError: Error, CustomStringConvertible {
        var description: String
    }

    private let python: String
    private let shim: String
    private let environment: [String: String]
    private let state = Mutex(State())

    private struct State {
        var server: ChildProcess?
        var socket: Int32 = -1
        var generation = 0
        var nextRequest = 0
        var spawned: [Int: pid_t] = [:]
        var exits: [pid_t: Int32] = [:]
        /// Children forked and not yet reported ended.
        var live: Set<pid_t> = []
        var failed: String?
    }

    private let changed = NSCondition()

    private let sandbox: Sandbox?

    init(python: String, shim: String, environment: [String: String], sandbox: Sandbox? = nil) {
        self.python = python
        self.shim = shim
        self.environment = environment
        self.sandbox = sandbox
    }

    /// Starts the server now, so its import overlaps with registration.
    func prepare() throws {
        _ = try connection()
    }

    /// Forks a child running `farm_shim.py` with `arguments` in `workingDirectory`.
    /// `descriptors` (at most 6) travel with the request; the child receives them after its two pipes.
    func spawn(arguments: [String], environment extra: [String: String], workingDirectory: String,
               descriptors: [Int32] = []) throws -> WarmProcess {
        let (socket, generation) = try connection()
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe2(&outPipe, O_CLOEXEC) == 0 else { throw ServerError(description: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe2(&errPipe, O_CLOEXEC) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw ServerError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        _ = farm_widen_pipe(outPipe[0])  // the frame stream
        let id = state.withLock { state -> Int in
            state.nextRequest += 1
            return state.nextRequest
        }
        let request: [String: Any] = ["id": id, "argv": arguments, "cwd": workingDirectory, "env": extra]
        let body = try JSONSerialization.data(withJSONObject: request)
        let fds = [outPipe[1], errPipe[1]] + descriptors
        let sent = body.withUnsafeBytes { raw in
            fds.withUnsafeBufferPointer { farm_send_with_fds(socket, raw.baseAddress, raw.count, $0.baseAddress, Int32($0.count)) }
        }
        close(outPipe[1])
        close(errPipe[1])
        guard sent == body.count else {
            close(outPipe[0]); close(errPipe[0])
            retire(generation, because: "the fork server stopped taking requests")
            throw ServerError(description: "could not reach the warm fork server")
        }
        guard let pid = waitFor(deadline: Date() + 30, { state -> pid_t?? in
            if let pid = state.spawned.removeValue(forKey: id) { return .some(pid) }
            return state.failed != nil || state.generation != generation ? .some(nil) : nil
        }) ?? nil else {
            close(outPipe[0]); close(errPipe[0])
            throw ServerError(description: "the warm fork server did not fork (\(state.withLock { $0.failed } ?? "timeout"))")
        }
        return WarmProcess(pid: pid, stdout: outPipe[0], stderr: errPipe[0], server: self)
    }

    /// Sends `signal` to the process group of the child `pid`, through the server:
    /// sandboxed, `pid` is a pid of the server's own namespace, meaningless here.
    func signal(_ pid: pid_t, _ signal: Int32) {
        guard let socket = state.withLock({ $0.failed == nil && $0.socket >= 0 ? $0.socket : nil }),
              let body = try? JSONSerialization.data(withJSONObject: ["kill": Int(pid), "signal": Int(signal)]) else { return }
        _ = body.withUnsafeBytes { farm_send_with_fds(socket, $0.baseAddress, $0.count, nil, 0) }
    }

    /// Blocks until the server reports that `pid` ended; its raw wait status.
    func waitForExit(_ pid: pid_t) -> Int32 {
        waitFor(deadline: .distantFuture) { state -> Int32? in
            // A server that died reported its children killed (see `retire`).
            state.exits.removeValue(forKey: pid)
        }!
    }

    /// Stops the server and every child it forked.
    func shutdown() {
        let (server, socket) = state.withLock { state in
            defer { state.server = nil; state.socket = -1; state.failed = "shut down" }
            return (state.server, state.socket)
        }
        if socket >= 0 { Glibc.shutdown(socket, Int32(SHUT_RDWR)) }
        server?.signalGroup(SIGKILL)
        _ = server?.wait()
        broadcast()
    }

    // MARK: Internals

    private func connection() throws -> (Int32, Int) {
        if let live = state.withLock({ state in state.socket >= 0 && state.failed == nil ? (state.socket, state.generation) : nil }) {
            return live
        }
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw ServerError(description: "socketpair: \(String(cString: strerror(errno)))")
        }
        let server: ChildProcess
        do {
            // Sandboxed, the server runs in bubblewrap and each fork isolates itself further (farm_sandbox.py).
            let command = sandbox?.command(python, [shim, "serve"]) ?? (executable: python, arguments: [shim, "serve"])
            server = try ChildProcess(executable: command.executable, arguments: command.arguments, environment: environment,
                                      workingDirectory: "/", control: pair[1])
        } catch {
            close(pair[0]); close(pair[1])
            throw error
        }
        close(pair[1])
        let generation = state.withLock { state -> Int in
            state.server = server
            state.socket = pair[0]
            state.generation += 1
            state.failed = nil
            return state.generation
        }
        let socket = pair[0]
        let reader = Thread { [self] in readReplies(socket: socket, generation: generation) }
        reader.name = "warm-fork-server"
        reader.start()
        return (pair[0], generation)
    }

    private func readReplies(socket: Int32, generation: Int) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            guard let reply = try? JSONSerialization.jsonObject(with: Data(buffer[0..<count])) as? [String: Any],
                  let pid = (reply["pid"] as? NSNumber)?.int32Value else { continue }
            state.withLock { state in
                if let id = (reply["id"] as? NSNumber)?.intValue {
                    state.spawned[id] = pid
                    state.live.insert(pid)
                } else if let status = (reply["status"] as? NSNumber)?.int32Value {
                    state.exits[pid] = status
                    state.live.remove(pid)
                }
            }
            broadcast()
        }
        retire(generation, because: "the warm fork server exited")
        close(socket)
    }

    private func retire(_ generation: Int, because reason: String) {
        let (server, orphans) = state.withLock { state -> (ChildProcess?, Set<pid_t>) in
            guard state.generation == generation, state.failed == nil else { return (nil, []) }
            state.failed = reason
            state.socket = -1
            for pid in state.live { state.exits[pid] = SIGKILL }  // what their waiters will see
            defer { state.server = nil; state.live = [] }
            return (state.server, state.live)
        }
        // Nobody can reap or report these any more: stop them, their tasks fail and are retried.
        // Sandboxed, their pids are the dead server's namespace's, and that namespace died with it.
        if sandbox == nil {
            for pid in orphans { kill(-pid, SIGKILL) }
        }
        if let server {
            server.signalGroup(SIGKILL)
            _ = server.wait()
        }
        broadcast()
    }

    private func broadcast() {
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    /// Waits until `check` returns a value (checked under the state lock) or `deadline` passes.
    private func waitFor<T>(deadline: Date, _ check: (inout State) -> T?) -> T? {
        changed.lock()
        defer { changed.unlock() }
        while true {
            if let value = state.withLock({ check(&$0) }) { return value }
            if Date() >= deadline { return nil }
            _ = changed.wait(until: min(deadline, Date() + 1))
        }
    }
}

/// A child forked by a `WarmForkServer`: it leads its own process group; its
/// exit status comes from the server, its parent.
final class WarmProcess: ManimProcess, @unchecked Sendable {
    let pid: pid_t
    let stdout: Int32
    let stderr: Int32
    private let server: WarmForkServer

    init(pid: pid_t, stdout: Int32, stderr: Int32, server: WarmForkServer) {
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self.server = server
    }

    deinit {
        close(stdout)
        close(stderr)
    }

    func signalGroup(_ signal: Int32) {
        server.signal(pid, signal)
    }

    func wait() -> ChildProcess.Termination {
        let status = server.waitForExit(pid)
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }
}
