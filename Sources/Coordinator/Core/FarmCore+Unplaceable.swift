import FarmModel
import FarmProtocol
import Foundation

/// Videos that no connected agent may render: they fail, with the reason, after a bounded wait,
/// instead of waiting in the queue for ever.
extension FarmCore {
    /// Fails each video whose pending tasks have had no eligible connected agent for
    /// `configuration.unplaceableWait`. Eligible means the same as for dispatch (`pickSlot`):
    /// LaTeX when the scene needs it, the task's render environment, and not blocklisted for the video. Busy agents count as
    /// eligible (the task waits for a slot, not for ever), draining ones do not.
    mutating func failUnplaceable(now: ContinuousClock.Instant) {
        let connected = agents.values.filter { $0.acceptsWork && $0.disconnectedAt == nil }
        guard !connected.isEmpty else {
            unplaceableSince.removeAll()  // nobody to blame yet: agents may be on their way
            return
        }
        for (videoID, video) in videos where video.state == .queued || video.state == .rendering {
            let pending = (taskIDsByVideo[videoID] ?? []).compactMap { tasks[$0] }.filter { $0.state == .pending }
            let failures = agentFailures[videoID] ?? [:]
            let placeable = pending.isEmpty || pending.contains { task in
                connected.contains { agent in
                    (!task.requiresLaTeX || agent.record.hasLaTeX) && failures[agent.record.id, default: 0] < configuration.blocklistAfter
                        && (task.work.environment.map { $0 == agent.record.renderIdentity } ?? true)
                        && (video.options.assets?.isEmpty != false || agent.record.takesAssets)
                }
            }
            if placeable {
                unplaceableSince[videoID] = nil
                continue
            }
            let since = unplaceableSince[videoID] ?? now
            unplaceableSince[videoID] = since
            guard now - since >= configuration.unplaceableWait, let first = pending.min(by: { $0.ordinal < $1.ordinal }) else { continue }
            var failed = video
            failed.state = .failed
            failed.error = Self.unplaceableReason(first, needsAssets: video.options.assets?.isEmpty == false,
                                                  connected: connected.map(\.record), failures: failures,
                                                  blocklistAfter: configuration.blocklistAfter, waited: configuration.unplaceableWait)
            logger.warning("no connected agent may take the video's tasks", metadata: ["video": "\(videoID)", "reason": "\(failed.error!)"])
            finish(failed, reason: "no connected agent may take its tasks")
        }
    }

    static func unplaceableReason(_ task: TaskRecord, needsAssets: Bool = false, connected: [AgentRecord], failures: [String: Int], blocklistAfter: Int,
                                  waited: Duration) -> String {
        let seconds = waited.components.seconds
        let names = connected.map(\.id).sorted().prefix(10).joined(separator: ", ")
        if task.requiresLaTeX && !connected.contains(where: \.hasLaTeX) {
            return "scene \(task.scene) uses LaTeX and none of the \(connected.count) connected agents (\(names)) has LaTeX "
                + "installed; waited \(seconds) s"
        }
        if needsAssets && !connected.contains(where: \.takesAssets) {
            return "the video has assets and none of the \(connected.count) connected agents (\(names)) takes assets "
                + "(an older agent); waited \(seconds) s"
        }
        if let identity = task.work.environment, !connected.contains(where: { $0.renderIdentity == identity }) {
            let theirs = Set(connected.map(\.renderIdentity)).sorted().prefix(3).joined(separator: "; ")
            return "scene \(task.scene) was planned in the render environment \(identity) and none of the \(connected.count) connected "
                + "agents (\(names)) has it (they have \(theirs)); waited \(seconds) s. Agents install it from python/requirements.lock"
        }
        return "every connected agent (\(names)) failed this video's tasks \(blocklistAfter) times and may not take them again; "
            + "waited \(seconds) s for another agent"
    }
}
