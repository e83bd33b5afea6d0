import Foundation
import Glibc

/// A control group per task: a ceiling on its processes (a fork bomb run as
/// root is not stopped by rlimits, which count per user) and on its memory
/// (tmpfs pages of its private /tmp included), and a way to kill whatever it
/// left when it ends.
///
/// Works on the unified hierarchy (cgroup v2, Debian 12 cloud images) and on
/// the legacy one (v1, `pids` and `memory` controllers). The agent opens each
/// group's `cgroup.procs` and hands the descriptors to the task's process,
/// which moves itself in (writing 0) before any of the script's code runs, so
/// there is no window in which it forks outside the group. The write is
/// checked against the credentials of whoever opened the file (Linux 5.16+):
/// the agent's.
final class TaskCgroup: @unchecked Sendable {
    /// Where a task's groups are made, or `nil` when this agent may not make them.
    struct Layout: Sendable {
        /// One folder per controller hierarchy under which task groups are created.
        var parents: [(folder: String, limits: Limits)]

        struct Limits: Sendable {
            var pids: String?
            var memory: String?
        }

        /// Finds a writable hierarchy: the unified one, else the legacy `pids` and `memory` controllers.
        static func detect(root: String = "/sys/fs/cgroup") -> Layout? {
            let fileManager = FileManager.default
            if fileManager.fileExists(atPath: "\(root)/cgroup.controllers") {
                // v2: a tree beside the agent's own group (a group holding processes cannot delegate controllers).
                let base = "\(root)/manimfarm"
                try? fileManager.createDirectory(atPath: base, withIntermediateDirectories: true)
                _ = write("+pids +memory", to: "\(root)/cgroup.subtree_control")
                _ = write("+pids +memory", to: "\(base)/cgroup.subtree_control")
                guard fileManager.isWritableFile(atPath: "\(base)/cgroup.subtree_control") else { return nil }
                return Layout(parents: [(base, Limits(pids: "pids.max", memory: "memory.max"))])
            }
            var parents: [(String, Limits)] = []
            for (controller, limits) in [("pids", Limits(pids: "pids.max")), ("memory", Limits(memory: "memory.limit_in_bytes"))] {
                let own = ownGroup(controller: controller)
                let base = "\(root)/\(controller)\(own)/manimfarm"
                try? fileManager.createDirectory(atPath: base, withIntermediateDirectories: true)
                if fileManager.isWritableFile(atPath: base) { parents.append((base, limits)) }
            }
            return parents.isEmpty ? nil : Layout(parents: parents)
        }

        /// The agent's own group in a legacy controller's hierarchy (from /proc/self/cgroup).
        private static func ownGroup(controller: String) -> String {
            let lines = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8))?.split(separator: "\n") ?? []
            for line in lines {
                let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                if fields.count == 3, fields[1].split(separator: ",").contains(Substring(controller)) {
                    return fields[2] == "/" ? "" : String(fields[2])
                }
            }
            return ""
        }
    }

    private let folders: [String]
    /// Open `cgroup.procs` of each group, for the task's process to join.
    let descriptors: [Int32]

    /// Creates the groups of task `name` with at most `pids` processes and `memoryBytes` of memory.
    init(layout: Layout, name: String, pids: Int, memoryBytes: Int64) throws {
        var folders: [String] = []
        var descriptors: [Int32] = []
        do {
            for (parent, limits) in layout.parents {
                let folder = "\(parent)/\(name)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                folders.append(folder)
                if let file = limits.pids, !Self.write(String(pids), to: "\(folder)/\(file)") {
                    throw CgroupError(description: "could not limit processes in \(folder)")
                }
                if let file = limits.memory, !Self.write(String(memoryBytes), to: "\(folder)/\(file)") {
                    throw CgroupError(description: "could not limit memory in \(folder)")
                }
                let fd = open("\(folder)/cgroup.procs", O_WRONLY | O_CLOEXEC)
                guard fd >= 0 else { throw CgroupError(description: "could not open \(folder)/cgroup.procs") }
                descriptors.append(fd)
            }
        } catch {
            descriptors.forEach { close($0) }
            folders.forEach { rmdir($0) }
            throw error
        }
        self.folders = folders
        self.descriptors = descriptors
    }

    deinit {
        descriptors.forEach { close($0) }
    }

    /// Sends SIGKILL to every process in the groups (host pids, whatever namespaces they are in); how many.
    @discardableResult
    func killAll() -> Int {
        var killed = 0
        for folder in folders {
            let members = (try? String(contentsOfFile: "\(folder)/cgroup.procs", encoding: .utf8)) ?? ""
            for pid in members.split(separator: "\n").compactMap({ pid_t($0) }) {
                kill(pid, SIGKILL)
                killed += 1
            }
        }
        return killed
    }

    /// Kills every process left in the groups and removes them. Blocking; call it when the task has ended.
    func destroy() {
        for _ in 0..<50 {
            let remaining = killAll()
            if remaining == 0, folders.allSatisfy({ rmdir($0) == 0 || errno == ENOENT }) { return }
            usleep(20_000)  // killed processes leave their group once the kernel has reaped them
        }
        folders.forEach { rmdir($0) }
    }

    @discardableResult
    static func write(_ value: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return value.withCString { Glibc.write(fd, $0, strlen($0)) } == value.utf8.count
    }

    struct CgroupError: Error, CustomStringConvertible {
        var description: String
    }
}
