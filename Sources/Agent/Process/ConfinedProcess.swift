import Glibc

/// A Manim process and the control group it joined: once the process has
/// ended, whatever it left in the group is killed and the group removed.
final class ConfinedProcess: ManimProcess, @unchecked Sendable {
    private let process: any ManimProcess
    private let cgroup: TaskCgroup?

    init(_ process: any ManimProcess, cgroup: TaskCgroup?) {
        self.process = process
        self.cgroup = cgroup
    }

    var stdout: Int32 { process.stdout }
    var stderr: Int32 { process.stderr }

    func signalGroup(_ signal: Int32) {
        process.signalGroup(signal)
        if signal == SIGKILL { cgroup?.killAll() }  // reaches the task even if its server cannot
    }

    func wait() -> ChildProcess.Termination {
        let termination = process.wait()
        cgroup?.destroy()
        return termination
    }
}
