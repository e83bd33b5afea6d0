import FarmProtocol
import FarmStorage
import Foundation

extension FarmEngine {
    /// Hands pending tasks to agents with free slots: oldest video first, scenes
    /// in order; a LaTeX scene only to an agent that has LaTeX.
    func dispatch() async {
        let pending = tasks.values.filter { $0.state == .pending }.sorted { a, b in
            let (va, vb) = (videos[a.videoID]?.createdAt ?? .distantPast, videos[b.videoID]?.createdAt ?? .distantPast)
            return va != vb ? va < vb : a.ordinal < b.ordinal
        }
        var assignments: [(TaskRecord, AttemptRecord, Assign, Data)] = []
        let now = ContinuousClock.now
        for var task in pending {
            if let notBefore = retryNotBefore[task.id], notBefore > now { continue }
            guard let video = videos[task.videoID], let agent = pickAgent(for: task) else { continue }
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
            }
            let assign = Assign(
                ref: ref, videoID: video.id, scriptName: video.scriptName, script: video.script, scene: task.scene,
                settings: video.settings, encoding: video.encoding, limits: configuration.limits)
            assignments.append((task, AttemptRecord(taskID: task.id, attempt: task.attempt, agentID: agent.record.id,
                                                    startedAt: task.updatedAt), assign, agent.peer))
        }
        for (task, attempt, assign, peer) in assignments {
            openAttempts[assign.ref] = attempt
            if let video = videos[task.videoID], video.state == .rendering { await writer.enqueue(.video(video)) }
            // Durable before the agent hears of it, so a restarted coordinator never reuses the attempt number.
            let sequence = await writer.enqueue(.attempt(task, attempt))
            guard await writer.waitDurable(sequence, timeout: .seconds(2)) else {
                logger.error("could not persist an assignment in time; it goes back to the queue", metadata: ["task": "\(task.id)"])
                openAttempts[assign.ref] = nil
                if let requeued = requeue(assign.ref, spendingRetry: false) { await writer.enqueue(.task(requeued)) }
                continue
            }
            guard tasks[task.id]?.attempt == task.attempt, tasks[task.id]?.state == .running else { continue }
            logger.info("assigned", metadata: [
                "task": "\(task.id)", "scene": "\(task.scene)", "attempt": "\(task.attempt)", "agent": "\(attempt.agentID)",
            ])
            send(.assign(assign), to: peer)
        }
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
        return pool.filter { $0.freeSlots > 0 }.max { $0.freeSlots < $1.freeSlots }
    }

    /// Puts a running attempt's task back in the queue (in memory; callers persist).
    @discardableResult
    func requeue(_ ref: AttemptRef, spendingRetry: Bool) -> TaskRecord? {
        guard var task = tasks[ref.taskID], task.attempt == ref.attempt, task.state == .running else { return nil }
        if let agentID = task.agentID { agents[agentID]?.running.remove(ref) }
        orphanedSince[task.id] = nil
        task.state = .pending
        task.agentID = nil
        task.framesDone = 0
        if spendingRetry { task.failures += 1 }
        task.updatedAt = Date()
        tasks[task.id] = task
        if let videoID = videos[task.videoID]?.id { staging.discard(videoID: videoID, ref: ref) }
        return task
    }
}
