import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// Hands pending tasks to agents with free slots.
    ///
    /// Order: higher priority first; between submitters of equal priority, the
    /// one with the fewest running tasks (fair share); within a submitter,
    /// older videos first, a video's plan before anything else, then the
    /// longest estimated task first so that the slowest piece starts first.
    /// A LaTeX scene goes only to an agent that has LaTeX.
    func dispatch() async {
        let started = ContinuousClock.now
        var queues = DispatchQueues(pending: tasks.values.filter { $0.state == .pending && !cacheLookups.contains($0.id) },
                                    videos: videos,
                                    running: runningTasksBySubmitter())
        var assignments: [(TaskRecord, AttemptRecord, Assign, Data)] = []
        let now = ContinuousClock.now
        while agents.values.contains(where: { $0.acceptsWork && $0.freeSlots > 0 }), var task = queues.next() {
            if let notBefore = retryNotBefore[task.id], notBefore > now { continue }
            guard let video = videos[task.videoID], let agent = pickAgent(for: task) else { continue }
            queues.started(task)
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
                settings: video.settings, encoding: video.encoding, limits: configuration.limits, kind: task.work.kind,
                animations: task.work.animations,
                scenes: task.work.kind == .plan ? video.options.scenes.map(\.name) : nil)
            let attempt = AttemptRecord(taskID: task.id, attempt: task.attempt, agentID: agent.record.id, startedAt: task.updatedAt)
            openAttempts[ref] = attempt
            assignments.append((task, attempt, assign, agent.peer))
        }
        guard !assignments.isEmpty else { return }
        // Durable before any agent hears of them, so a restarted coordinator never
        // reuses an attempt number. The writer keeps order: waiting for the last waits for all.
        var last = 0
        var videosMarked = Set<String>()
        for (task, attempt, _, _) in assignments {
            if videosMarked.insert(task.videoID).inserted, let video = videos[task.videoID], video.state == .rendering {
                await writer.enqueue(.video(video))
            }
            last = await writer.enqueue(.attempt(task, attempt))
        }
        let decided = ContinuousClock.now
        let durable = await writer.waitDurable(last, timeout: .seconds(2))
        let persisted = ContinuousClock.now
        for (task, _, assign, peer) in assignments {
            guard durable else {
                logger.error("could not persist an assignment in time; it goes back to the queue", metadata: ["task": "\(task.id)"])
                openAttempts[assign.ref] = nil
                if let requeued = requeue(assign.ref, spendingRetry: false) { await writer.enqueue(.task(requeued)) }
                continue
            }
            guard tasks[task.id]?.attempt == task.attempt, tasks[task.id]?.state == .running else { continue }
            logger.info("assigned", metadata: [
                "task": "\(task.id)", "scene": "\(task.scene)", "kind": "\(task.work.kind.rawValue)",
                "range": "\(task.work.animations.map(\.description) ?? "whole")", "attempt": "\(task.attempt)",
                "agent": "\(task.agentID ?? "")",
            ])
            send(.assign(assign), to: peer)
        }
        if assignments.count >= 50 {
            logger.notice("large dispatch round", metadata: [
                "assignments": "\(assignments.count)", "decide": "\(decided - started)", "persist": "\(persisted - decided)",
                "send": "\(ContinuousClock.now - persisted)",
            ])
        }
        assignmentsMade += assignments.count
        dispatchTime += ContinuousClock.now - started
        if assignments.count > largestDispatchRound.assignments {
            largestDispatchRound = (assignments.count, ContinuousClock.now - started)
        }
        if !durable { await dispatch() }
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
