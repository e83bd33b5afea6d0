import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

/// Pending tasks in the order they should start: by priority, then fair share
/// between submitters, then each submitter's own order (oldest video first,
/// plans first, then the video's planned dispatch order, else longest estimate
/// first, then playback order).
struct DispatchQueues {
    /// Each submitter's tasks, best first, per priority.
    private var queues: [Int: [String: ArraySlice<TaskRecord>]] = [:]
    private var running: [String: Int]
    private let submitterOf: [String: String]

    init(pending: [TaskRecord], videos: [String: VideoRecord], running: [String: Int]) {
        self.running = running
        var submitterOf: [String: String] = [:]
        var grouped: [Int: [String: [TaskRecord]]] = [:]
        for task in pending {
            guard let video = videos[task.videoID] else { continue }
            submitterOf[task.id] = video.options.submitter
            grouped[video.options.priority, default: [:]][video.options.submitter, default: []].append(task)
        }
        self.submitterOf = submitterOf
        for (priority, bySubmitter) in grouped {
            for (submitter, tasks) in bySubmitter {
                queues[priority, default: [:]][submitter] = ArraySlice(tasks.sorted { Self.before($0, $1, videos) })
            }
        }
    }

    /// Takes the next task to consider, or `nil` when none is left.
    mutating func next() -> TaskRecord? {
        while let priority = queues.keys.max() {
            let submitters = queues[priority]!
            // Fair share: the submitter with the fewest running tasks goes next; ties by name, for determinism.
            guard let submitter = submitters.keys.min(by: { (running[$0, default: 0], $0) < (running[$1, default: 0], $1) }) else {
                queues[priority] = nil
                continue
            }
            let task = queues[priority]![submitter]!.removeFirst()  // in place: no copy of the queue
            if queues[priority]![submitter]!.isEmpty { queues[priority]![submitter] = nil }
            if queues[priority]!.isEmpty { queues[priority] = nil }
            return task
        }
        return nil
    }

    /// Notes that `task` was assigned, so its submitter's share grows.
    mutating func started(_ task: TaskRecord) {
        running[submitterOf[task.id] ?? "", default: 0] += 1
    }

    private static func before(_ a: TaskRecord, _ b: TaskRecord, _ videos: [String: VideoRecord]) -> Bool {
        let (va, vb) = (videos[a.videoID]!, videos[b.videoID]!)
        if va.createdAt != vb.createdAt { return va.createdAt < vb.createdAt }
        if a.videoID != b.videoID { return a.videoID < b.videoID }
        if (a.work.kind == .plan) != (b.work.kind == .plan) { return a.work.kind == .plan }
        if let ra = a.work.dispatchRank, let rb = b.work.dispatchRank, ra != rb { return ra < rb }
        let (ea, eb) = (a.work.estimatedSeconds ?? 0, b.work.estimatedSeconds ?? 0)
        if ea != eb { return ea > eb }
        return a.ordinal < b.ordinal
    }
}
