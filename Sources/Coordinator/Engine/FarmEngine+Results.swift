import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// The task a report may change: only the current attempt, from the agent
    /// it was assigned to, while it runs. Anything else is refused and counted.
    func fenced(_ ref: AttemptRef, from peer: Data) -> TaskRecord? {
        // Agents route with their id as ZeroMQ identity, so an agent whose reports
        // reach a restarted coordinator before it re-registers is still recognised.
        let agentID = agentIDsByPeer[peer] ?? String(decoding: peer, as: UTF8.self)
        guard let task = tasks[ref.taskID], task.state == .running,
              task.attempt == ref.attempt, task.agentID == agentID else {
            refusedReports += 1
            return nil
        }
        return task
    }

    func handleProgress(_ progress: RenderProgress, from peer: Data) {
        guard fenced(progress.ref, from: peer) != nil else { return }
        tasks[progress.ref.taskID]?.framesDone = progress.framesDone
    }

    func handleChunk(_ chunk: SegmentChunk, bytes: Data, from peer: Data) {
        guard let task = fenced(chunk.ref, from: peer) else { return }
        staging.write(chunk, bytes: bytes, videoID: task.videoID)
    }

    func handleResult(_ result: TaskResult, from peer: Data) async {
        guard let task = fenced(result.ref, from: peer) else {
            send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "superseded attempt")), to: peer)
            return
        }
        guard task.work.kind == .render, let encoding = videos[task.videoID]?.encoding else {
            send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "not a render task")), to: peer)
            await handleFailure(TaskFailure(ref: result.ref, reason: .invalidReport,
                                            message: "a render result for a plan task", logTail: ""), from: peer)
            return
        }
        let problem = await staging.verify(result, videoID: task.videoID, expectedHeights: encoding.renditions.map(\.height))
        // The attempt may have been superseded (lease, cancel) while verifying.
        guard var task = fenced(result.ref, from: peer) else {
            send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "superseded attempt")), to: peer)
            return
        }
        if let problem {
            send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: problem)), to: peer)
            await handleFailure(TaskFailure(ref: result.ref, reason: .invalidReport,
                                            message: "incomplete upload: \(problem)", logTail: ""), from: peer)
            return
        }
        task.result = result
        task.framesDone = result.frames
        let attempt = complete(&task, ref: result.ref)
        let sequence: Int
        do {
            try await staging.accept(videoID: task.videoID, ref: result.ref)
            sequence = await writer.enqueue(.attempt(task, attempt))
        } catch {
            logger.error("could not commit a result", metadata: ["task": "\(task.id)", "error": "\(error)"])
            tasks[task.id]?.state = .running  // let requeue find it
            if let requeued = requeue(result.ref, spendingRetry: false) { await writer.enqueue(.task(requeued)) }
            send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "coordinator could not store it")), to: peer)
            scheduleDispatch()
            return
        }
        // Acknowledged only once durable: an agent told "accepted" forgets the attempt, so a
        // coordinator restarted after the ack must find the task done.
        guard await writer.waitDurable(sequence, timeout: nil) else { return }  // the writer stopped: shutting down
        send(.resultAck(ResultAck(ref: result.ref, accepted: true)), to: peer)
        recordRenderTime(result.renderSeconds)
        if let video = videos[task.videoID] {
            // The plan's frame count, at the video's rate: what estimates are made of.
            costModel.observe(frames: task.work.expectedFrames ?? result.frames, quality: video.settings.quality,
                              seconds: result.renderSeconds)
        }
        if task.work.animations != nil { metrics.rangesRendered.increment() }
        logger.info("scene rendered", metadata: [
            "task": "\(task.id)", "scene": "\(task.scene)", "frames": "\(result.frames)",
            "seconds": "\(String(format: "%.1f", result.renderSeconds))",
        ])
        scheduleDispatch()
        // Before assembly, which clears the video's staging folder.
        await rememberInCache(task, result: result)
        let siblings = renderTasks(of: task.videoID)
        if siblings.allSatisfy({ $0.state == .done }) {
            await assemble(videoID: task.videoID)
        }
    }

    /// Marks a fenced attempt's task done, frees its slot and closes its history record.
    func complete(_ task: inout TaskRecord, ref: AttemptRef) -> AttemptRecord {
        if let agentID = task.agentID { agents[agentID]?.running.remove(ref) }
        orphanedSince[task.id] = nil
        retryNotBefore[task.id] = nil
        task.state = .done
        task.error = nil
        task.updatedAt = Date()
        tasks[task.id] = task
        return closeAttempt(ref, agentID: task.agentID, outcome: "done")
    }

    func handleFailure(_ failure: TaskFailure, from peer: Data) async {
        guard let task = fenced(failure.ref, from: peer) else { return }
        await failAttempt(task, failure)
    }

    /// The message of an attempt whose agent vanished while running it.
    static let lostAgentMessage = "its agent was lost while running it (a task that keeps losing agents may be killing them)"

    /// An attempt whose agent vanished (its lease expired, or it came back without
    /// the attempt) spends a retry like any agent-side failure: a task that kills
    /// every agent that takes it fails its video instead of going round the fleet.
    func loseAttempt(_ ref: AttemptRef) async {
        guard let task = tasks[ref.taskID], task.state == .running, task.attempt == ref.attempt else { return }
        await failAttempt(task, TaskFailure(ref: ref, reason: .lostAgent, message: Self.lostAgentMessage, logTail: ""))
    }

    /// Ends a current attempt that failed: retried elsewhere, or its video fails.
    func failAttempt(_ task: TaskRecord, _ failure: TaskFailure) async {
        var task = task
        guard var video = videos[task.videoID] else { return }
        let agentID = task.agentID ?? ""
        if failure.reason == .noFreeSlot { agents[agentID]?.full = true }
        let attempt = closeAttempt(failure.ref, agentID: agentID, outcome: failure.reason.rawValue, logTail: failure.logTail)
        let error = TaskError(failure)
        logger.warning("attempt failed", metadata: [
            "task": "\(task.id)", "scene": "\(task.scene)", "attempt": "\(task.attempt)",
            "class": "\(failure.failureClass.rawValue)", "message": "\(failure.message)",
        ])
        switch failure.failureClass {
        case .agentError where task.failures + 1 < configuration.maxAttempts, .cancelled:
            // Retry elsewhere; a hand-back while draining costs no retry.
            guard let requeued = requeue(failure.ref, spendingRetry: failure.failureClass == .agentError) else { return }
            task = requeued
            if failure.failureClass == .agentError {
                agentFailures[task.videoID, default: [:]][agentID, default: 0] += 1
                lastFailedAgent[task.id] = agentID
                let backoff = configuration.retryBackoff * (1 << min(task.failures - 1, 5))
                retryNotBefore[task.id] = .now + backoff
            }
            task.error = failure.failureClass == .cancelled ? nil : error
            tasks[task.id] = task
            await writer.enqueue(.attempt(task, attempt))
            scheduleDispatch()
        case .agentError, .scriptError, .timeout, .outOfMemory:
            agents[agentID]?.running.remove(failure.ref)
            if task.work.kind == .plan {
                // Render the scenes whole instead: each render then fails (or not) on its
                // own scene, so the user learns which scene is broken and how.
                task.state = .failed
                task.error = error
                task.updatedAt = Date()
                tasks[task.id] = task
                await planWithoutSplitting(task, attempt: attempt, because: failure)
                return
            }
            task.state = .failed
            task.error = error
            task.updatedAt = Date()
            if failure.failureClass == .agentError { task.failures += 1 }
            tasks[task.id] = task
            await writer.enqueue(.attempt(task, attempt))
            guard videos[video.id] != nil else { return }
            video.state = .failed
            video.error = task.work.kind == .plan
                ? "planning failed: " + Self.explain(failure, scene: "the script", attempts: task.failures)
                : Self.explain(failure, scene: task.work.animations.map { "\(task.scene) (animations \($0))" } ?? task.scene,
                               attempts: task.failures)
            await finish(&video, cancelling: video.error ?? "failed")
        }
    }

    static func explain(_ failure: TaskFailure, scene: String, attempts: Int) -> String {
        switch failure.failureClass {
        case .scriptError: "scene \(scene) raised an error: \(failure.message)"
        case .timeout: "scene \(scene) timed out: \(failure.message)"
        case .outOfMemory: "scene \(scene) exceeded its memory limit: \(failure.message)"
        case .agentError: "scene \(scene) failed on agents \(attempts) times: \(failure.message)"
        case .cancelled: "scene \(scene) was cancelled"
        }
    }
}
