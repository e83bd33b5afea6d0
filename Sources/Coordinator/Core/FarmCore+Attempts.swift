import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// How an attempt ends: its result accepted, refused, or a failure that is retried
/// elsewhere or fails the video.
extension FarmCore {
    /// The message of an attempt whose agent vanished while running it.
    static let lostAgentMessage = "its agent was lost while running it (a task that keeps losing agents may be killing them)"

    /// A verified result whose files are in place: the task is done once that is durable,
    /// and only then is the agent told so. The last scene starts assembly.
    mutating func acceptResult(_ result: TaskResult, from peer: Data) {
        guard var task = fenced(result.ref, from: peer) else {
            emit(.send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "superseded attempt")), to: peer))
            return
        }
        guard task.work.kind == .render, let video = videos[task.videoID] else {
            emit(.send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "not a render task")), to: peer))
            failAttempt(task, TaskFailure(ref: result.ref, reason: .invalidReport, message: "a render result for a plan task",
                                          logTail: ""), now: .now)
            return
        }
        task.result = result
        task.framesDone = result.frames
        let attempt = complete(&task, ref: result.ref)
        persist(.attempt(task, attempt))
        emit(.sendWhenDurable(.resultAck(ResultAck(ref: result.ref, accepted: true)), to: peer))
        averageRenderSeconds = averageRenderSeconds.map { $0 * 0.8 + result.renderSeconds * 0.2 } ?? result.renderSeconds
        // The plan's frame count, at the video's rate: what estimates are made of.
        costModel.observe(frames: task.work.expectedFrames ?? result.frames, quality: video.settings.quality,
                          seconds: result.renderSeconds)
        if task.work.animations != nil { rangesRendered += 1 }
        counters.attempt("done")
        counters.rendered(frames: result.frames, seconds: result.renderSeconds, quality: video.settings.quality)
        logger.info("scene rendered", metadata: [
            "task": "\(task.id)", "attempt": "\(result.ref.attempt)", "agent": "\(task.agentID ?? "")", "scene": "\(task.scene)", "frames": "\(result.frames)",
            "seconds": "\(String(format: "%.1f", result.renderSeconds))",
        ])
        emit(.requestDispatch)
        // Before assembly, which clears the video's staging folder.
        // A render from another environment than its key names is used, but never cached under that key.
        let identity = task.agentID.flatMap { agents[$0]?.record.renderIdentity }
        if configuration.renderCache, video.options.useCache, task.work.cacheKey != nil,
           task.work.cacheIdentity == nil || task.work.cacheIdentity == identity {
            emit(.rememberInCache(task, result))
        }
        startAssemblyIfRendered(task.videoID)
    }

    /// A result whose uploads failed verification: refused, and the attempt fails on the agent's account.
    mutating func refuseResult(_ result: TaskResult, from peer: Data, problem: String) {
        guard let task = fenced(result.ref, from: peer) else {
            emit(.send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "superseded attempt")), to: peer))
            return
        }
        emit(.send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: problem)), to: peer))
        failAttempt(task, TaskFailure(ref: result.ref, reason: .invalidReport, message: "incomplete upload: \(problem)",
                                      logTail: ""), now: .now)
    }

    /// The coordinator could not move a verified result's files into place: its own fault,
    /// so the task goes back to the queue without spending a retry.
    mutating func resultCouldNotBeStored(_ result: TaskResult, from peer: Data) {
        guard fenced(result.ref, from: peer) != nil else { return }
        logger.error("could not commit a result", metadata: ["task": "\(result.ref.taskID)"])
        if let requeued = requeue(result.ref, spendingRetry: false) { persist(.task(requeued)) }
        emit(.send(.resultAck(ResultAck(ref: result.ref, accepted: false, reason: "coordinator could not store it")), to: peer))
        emit(.requestDispatch)
    }

    /// Marks a fenced attempt's task done, frees its slot and closes its history record.
    mutating func complete(_ task: inout TaskRecord, ref: AttemptRef) -> AttemptRecord {
        if let agentID = task.agentID { agents[agentID]?.running.remove(ref) }
        orphanedSince[task.id] = nil
        retryNotBefore[task.id] = nil
        task.state = .done
        task.error = nil
        task.updatedAt = Date()
        put(task)
        return closeAttempt(ref, agentID: task.agentID, outcome: "done")
    }

    /// An attempt whose agent vanished (its lease expired, or it came back without
    /// the attempt) spends a retry like any agent-side failure: a task that kills
    /// every agent that takes it fails its video instead of going round the fleet.
    mutating func loseAttempt(_ ref: AttemptRef, now: ContinuousClock.Instant) {
        guard let task = tasks[ref.taskID], task.state == .running, task.attempt == ref.attempt else { return }
        failAttempt(task, TaskFailure(ref: ref, reason: .lostAgent, message: Self.lostAgentMessage, logTail: ""), now: now)
    }

    /// Ends a current attempt that failed: retried elsewhere, or its video fails.
    mutating func failAttempt(_ task: TaskRecord, _ failure: TaskFailure, now: ContinuousClock.Instant) {
        var task = task
        guard var video = videos[task.videoID] else { return }
        let agentID = task.agentID ?? ""
        if failure.reason == .noFreeSlot { agents[agentID]?.full = true }
        let attempt = closeAttempt(failure.ref, agentID: agentID, outcome: failure.reason.rawValue, logTail: failure.logTail)
        let error = TaskError(failure)
        // A script's own error message is its owner's (readable through the API, erased with it): the log names the class only.
        logger.warning("attempt failed", metadata: [
            "task": "\(task.id)", "scene": "\(task.scene)", "attempt": "\(task.attempt)", "reason": "\(failure.reason.rawValue)",
            "message": "\(failure.failureClass == .scriptError ? "(the script's, see the API)" : failure.message)",
        ])
        switch failure.failureClass {
        case .agentError where task.failures + 1 < configuration.maxAttempts, .cancelled:
            // Retry elsewhere; a hand-back (no free slot, draining, cancelled) costs no retry.
            let spendsRetry = failure.failureClass == .agentError
            guard let requeued = requeue(failure.ref, spendingRetry: spendsRetry) else { return }
            if spendsRetry { counters.attempt("retried") }
            task = requeued
            if spendsRetry {
                agentFailures[task.videoID, default: [:]][agentID, default: 0] += 1
                lastFailedAgent[task.id] = agentID
                retryNotBefore[task.id] = now + configuration.retryBackoff * (1 << min(task.failures - 1, 5))
            }
            task.error = spendsRetry ? error : nil
            put(task)
            persist(.attempt(task, attempt))
            emit(.requestDispatch)
        case .agentError, .scriptError, .timeout, .outOfMemory:
            agents[agentID]?.running.remove(failure.ref)
            orphanedSince[task.id] = nil
            task.state = .failed
            task.error = error
            task.updatedAt = Date()
            if failure.failureClass == .agentError { task.failures += 1 }
            counters.attempt(failure.failureClass == .scriptError ? "script-error" : "failed")
            put(task)
            if task.work.kind == .plan {
                // Render the scenes whole instead: each render then fails (or not) on its
                // own scene, so the user learns which scene is broken and how.
                planWithoutSplitting(task, attempt: attempt, because: failure)
                return
            }
            persist(.attempt(task, attempt))
            video.state = .failed
            video.error = Self.explain(failure, scene: task.work.animations.map { "\(task.scene) (animations \($0))" } ?? task.scene,
                                       attempts: task.failures)
            // The error quotes the script's message when the script raised: the log gets the class only.
            finish(video, reason: failure.failureClass == .scriptError ? "a scene's script raised" : video.error ?? "failed")
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
