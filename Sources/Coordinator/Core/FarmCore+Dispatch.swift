import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// Matching pending tasks to free agent slots.
extension FarmCore {
    /// Hands pending tasks to agents with free slots.
    ///
    /// Order: higher priority first; between submitters of equal priority, the
    /// one with the fewest running tasks (fair share); within a submitter,
    /// older videos first, a video's plan before anything else, then the
    /// longest estimated task first so that the slowest piece starts first.
    /// A LaTeX scene goes only to an agent that has LaTeX. Each assignment's
    /// fresh attempt number is persisted before the agent hears of it.
    mutating func dispatch(now: ContinuousClock.Instant) {
        guard agents.values.contains(where: { $0.acceptsWork && $0.freeSlots > 0 }) else { return }
        var queues = DispatchQueues(pending: tasks.values.filter { $0.state == .pending && !cacheLookups.contains($0.id) },
                                    videos: videos, running: runningTasksBySubmitter())
        var freeSlots = agents.values.reduce(0) { $0 + ($1.acceptsWork ? $1.freeSlots : 0) }
        var assignments: [(Assign, Data)] = []
        while freeSlots > 0, var task = queues.next() {
            if let notBefore = retryNotBefore[task.id], notBefore > now { continue }
            guard let video = videos[task.videoID], let agent = pickAgent(for: task) else { continue }
            queues.started(task)
            freeSlots -= 1
            task.attempt += 1
            task.state = .running
            task.agentID = agent.record.id
            task.framesDone = 0
            task.updatedAt = Date()
            tasks[task.id] = task
            let ref = AttemptRef(taskID: task.id, attempt: task.attempt)
            agents[agent.record.id]?.running.insert(ref)
            if video.state == .queued {
                videos[video.id]?.state = .rendering
                persist(.video(videos[video.id]!))
            }
            let attempt = AttemptRecord(taskID: task.id, attempt: task.attempt, agentID: agent.record.id, startedAt: task.updatedAt)
            openAttempts[ref] = attempt
            persist(.attempt(task, attempt))
            assignments.append((Assign(
                ref: ref, videoID: video.id, scriptName: video.scriptName, script: video.script, scene: task.scene,
                settings: video.settings, encoding: video.encoding, limits: configuration.limits, kind: task.work.kind,
                animations: task.work.animations,
                scenes: task.work.kind == .plan ? video.options.scenes.map(\.name) : nil), agent.peer))
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

    private func runningTasksBySubmitter() -> [String: Int] {
        var running: [String: Int] = [:]
        for task in tasks.values where task.state == .running {
            running[videos[task.videoID]?.options.submitter ?? "", default: 0] += 1
        }
        return running
    }

    /// The agent with the most free slots that can run `task`: not blocklisted
    /// for its video, and not the agent it last failed on while another
    /// connected agent could take it (even if that one is busy now).
    func pickAgent(for task: TaskRecord) -> AgentState? {
        let failures = agentFailures[task.videoID] ?? [:]
        let eligible = agents.values.filter {
            $0.acceptsWork && (!task.requiresLaTeX || $0.record.hasLaTeX)
                && failures[$0.record.id, default: 0] < configuration.blocklistAfter
        }
        let failedOn = lastFailedAgent[task.id]
        let others = eligible.filter { $0.record.id != failedOn }
        let pool = others.isEmpty ? eligible : others
        return pool.filter { $0.freeSlots > 0 }.max { ($0.freeSlots, $1.record.id) < ($1.freeSlots, $0.record.id) }
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
        tasks[task.id] = task
        emit(.discardAttemptFiles(videoID: task.videoID, ref))
        return task
    }
}
