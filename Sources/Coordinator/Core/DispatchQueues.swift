import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

/// Who a task's agent time counts against: fair share is between teams first,
/// then between the users of a team.
struct ShareKey: Hashable, Comparable {
    var team: String
    var user: String

    init(team: String, user: String) {
        self.team = team
        self.user = user
    }

    init(_ video: VideoRecord) {
        self.init(team: video.teamID ?? "", user: video.userID ?? video.options.submitter)
    }

    static func < (a: ShareKey, b: ShareKey) -> Bool { (a.team, a.user) < (b.team, b.user) }
}

/// Pending tasks in the order they should start: by priority, then fair share
/// between teams, then between a team's users, then each user's own order (oldest
/// video first, plans first, then the video's planned dispatch order, else longest
/// estimate first, then playback order).
struct DispatchQueues {
    /// Each team's users' tasks, best first, per priority.
    private var queues: [Int: [String: [String: ArraySlice<TaskRecord>]]] = [:]
    private var runningByTeam: [String: Int] = [:]
    private var runningByUser: [ShareKey: Int]
    private let shareOf: [String: ShareKey]

    /// `running`: tasks running now, per team and user.
    init(pending: [TaskRecord], videos: [String: VideoRecord], running: [ShareKey: Int]) {
        runningByUser = running
        for (key, count) in running { runningByTeam[key.team, default: 0] += count }
        var shareOf: [String: ShareKey] = [:]
        var grouped: [Int: [ShareKey: [TaskRecord]]] = [:]
        for task in pending {
            guard let video = videos[task.videoID] else { continue }
            let share = ShareKey(video)
            shareOf[task.id] = share
            grouped[video.options.priority, default: [:]][share, default: []].append(task)
        }
        self.shareOf = shareOf
        for (priority, byShare) in grouped {
            for (share, tasks) in byShare {
                queues[priority, default: [:]][share.team, default: [:]][share.user] = ArraySlice(tasks.sorted { Self.before($0, $1, videos) })
            }
        }
    }

    /// Takes the next task to consider, or `nil` when none is left.
    mutating func next() -> TaskRecord? {
        while let priority = queues.keys.max() {
            // Fair share: the team with the fewest running tasks goes next, then its user with the fewest;
            // ties by id, for determinism.
            let teams = queues[priority]!
            guard let team = teams.keys.min(by: { (runningByTeam[$0, default: 0], $0) < (runningByTeam[$1, default: 0], $1) }) else {
                queues[priority] = nil
                continue
            }
            let users = teams[team]!
            let user = users.keys.min {
                (runningByUser[ShareKey(team: team, user: $0), default: 0], $0) < (runningByUser[ShareKey(team: team, user: $1), default: 0], $1)
            }!
            let task = queues[priority]![team]![user]!.removeFirst()  // in place: no copy of the queue
            if queues[priority]![team]![user]!.isEmpty { queues[priority]![team]![user] = nil }
            if queues[priority]![team]!.isEmpty { queues[priority]![team] = nil }
            if queues[priority]!.isEmpty { queues[priority] = nil }
            return task
        }
        return nil
    }

    /// Notes that `task` was assigned, so its team's and user's shares grow.
    mutating func started(_ task: TaskRecord) {
        guard let share = shareOf[task.id] else { return }
        runningByTeam[share.team, default: 0] += 1
        runningByUser[share, default: 0] += 1
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
