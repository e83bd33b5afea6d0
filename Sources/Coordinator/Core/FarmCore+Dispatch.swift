import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// Matching pending tasks to free agent slots.
extension FarmCore {
    /// Hands pending tasks to agents with free slots.
    ///
    /// Order: higher priority first; between teams of equal priority, the one
    /// with the fewest running tasks (fair share), then likewise between the
    /// team's users; within a user,
    /// older videos first, a video's plan before anything else, then the
    /// longest estimated task first so that the slowest piece starts first.
    /// A LaTeX scene goes only to an agent that has LaTeX, a task made for a render
    /// environment only to an agent with that environment. Each assignment's
    /// fresh attempt number is persisted before the agent hears of it.
    mutating func dispatch(now: ContinuousClock.Instant) {
        // The round's view of the fleet, in id order: free slots are counted down here, so
        // choosing an agent touches small values, not the agents' whole state.
        var slots = agents.values.filter(\.acceptsWork).map {
            SlotCandidate(id: $0.record.id, peer: $0.peer, free: $0.freeSlots, hasLaTeX: $0.record.hasLaTeX,
                          identity: $0.record.renderIdentity, takesAssets: $0.record.takesAssets)
        }.sorted { $0.id < $1.id }
        var freeSlots = slots.reduce(0) { $0 + $1.free }
        guard freeSlots > 0 else { return }
        var queues = DispatchQueues(pending: tasks.values.filter { $0.state == .pending && !cacheLookups.contains($0.id) },
                                    videos: videos, running: runningTasksByShare())
        var assignments: [(Assign, Data)] = []
        while freeSlots > 0, var task = queues.next() {
            if let notBefore = retryNotBefore[task.id], notBefore > now { continue }
            guard let video = videos[task.videoID],
                  let chosen = pickSlot(for: task, among: slots, needsAssets: video.options.assets?.isEmpty == false) else { continue }
            queues.started(task)
            freeSlots -= 1
            slots[chosen].free -= 1
            let (agentID, peer) = (slots[chosen].id, slots[chosen].peer)
            task.attempt += 1
            task.state = .running
            task.agentID = agentID
            task.framesDone = 0
            task.updatedAt = Date()
            put(task)
            let ref = AttemptRef(taskID: task.id, attempt: task.attempt)
            agents[agentID]?.running.insert(ref)
            if video.state == .queued {
                videos[video.id]?.state = .rendering
                persist(.video(videos[video.id]!))
            }
            let attempt = AttemptRecord(taskID: task.id, attempt: task.attempt, agentID: agentID, startedAt: task.updatedAt)
            openAttempts[ref] = attempt
            persist(.attempt(task, attempt))
            assignments.append((Assign(
                ref: ref, videoID: video.id, scriptName: video.scriptName, script: video.script, scene: task.scene,
                settings: video.settings, encoding: video.encoding, limits: configuration.limits, kind: task.work.kind,
                animations: task.work.animations,
                scenes: task.work.kind == .plan ? video.options.scenes.map(\.name) : nil), peer))
        }
        // After every change of the round: one wait for durability covers the whole round.
        for (assign, peer) in assignments { emit(.assign(assign, to: peer)) }
        assignmentsMade += assignments.count
    }

    /// Assignments that could not be made durable in time go back to the queue unsent.
    mutating func takeBack(_ refs: [AttemptRef]) {
        for ref in refs {
            logger.error("could not persist an assignment in time; it goes back to the queue", metadata: ["task": "\(ref.taskID)"])
            openAttempts[ref] = nil
            if let requeued = requeue(ref, spendingRetry: false) { persist(.task(requeued)) }
        }
        emit(.requestDispatch)
    }

    private func runningTasksByShare() -> [ShareKey: Int] {
        var running: [ShareKey: Int] = [:]
        for task in tasks.values where task.state == .running {
            guard let video = videos[task.videoID] else { continue }
            running[ShareKey(video), default: 0] += 1
        }
        return running
    }

    /// The agent with the most free slots that can run `task`: not blocklisted for its
    /// video, and not the agent it last failed on while another connected agent could take
    /// it (even if that one is busy now). Ties go to the first by id. One pass, no copies.
    func pickSlot(for task: TaskRecord, among slots: [SlotCandidate], needsAssets: Bool = false) -> Int? {
        let failures = agentFailures[task.videoID]
        let failedOn = lastFailedAgent[task.id]
        var best: Int?, bestOther: Int?, otherEligible = false
        for index in slots.indices {
            if task.requiresLaTeX && !slots[index].hasLaTeX { continue }
            if let identity = task.work.environment, slots[index].identity != identity { continue }
            if needsAssets && !slots[index].takesAssets { continue }
            if let failures, failures[slots[index].id, default: 0] >= configuration.blocklistAfter { continue }
            let isOther = slots[index].id != failedOn
            if isOther { otherEligible = true }
            guard slots[index].free > 0 else { continue }
            if best.map({ slots[index].free > slots[$0].free }) ?? true { best = index }
            if isOther, bestOther.map({ slots[index].free > slots[$0].free }) ?? true { bestOther = index }
        }
        return otherEligible ? bestOther : best
    }

    /// Puts a running attempt's task back in the queue; callers persist it.
    mutating func requeue(_ ref: AttemptRef, spendingRetry: Bool) -> TaskRecord? {
        guard var task = tasks[ref.taskID], task.attempt == ref.attempt, task.state == .running else { return nil }
        if let agentID = task.agentID { agents[agentID]?.running.remove(ref) }
        orphanedSince[task.id] = nil
        task.state = .pending
        task.agentID = nil
        task.framesDone = 0
        if spendingRetry { task.failures += 1 }
        task.updatedAt = Date()
        put(task)
        emit(.discardAttemptFiles(videoID: task.videoID, ref))
        return task
    }
}

/// An agent as a dispatch round sees it.
struct SlotCandidate {
    let id: String
    let peer: Data
    var free: Int
    let hasLaTeX: Bool
    /// `AgentRecord.renderIdentity`.
    let identity: String
    let takesAssets: Bool
}
