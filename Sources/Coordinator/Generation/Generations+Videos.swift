import FarmModel
import Foundation

/// A job's videos: the checks of its scripts (a planning pass in the sandbox, nothing rendered) and the
/// video of the script that passed, followed to its end.
extension Generations {
    struct CheckOutcome {
        var videoID: String?
        var plannedSeconds: Double?
        /// Why the script failed, and where; `stage` `farm` when the farm, not the script, failed the check.
        var problem: (stage: String, error: String)?
    }

    /// Runs `script` through scene discovery and the planning pass, and compares its planned length with the target.
    func check(_ job: GenerationRecord, script: String, round: Int, settings: GenerationSettings) async -> CheckOutcome {
        // The settings the video will have: its planning pass then finds this plan in the plan cache.
        let request = SubmitRequest(script: script, scriptName: "\(job.id)-round\(round)-check.py", quality: job.request.quality,
                                    idempotencyKey: "\(job.id)-check-\(round)")
        let deadline = ContinuousClock.now + settings.checkTimeout
        let submitted: VideoStatus
        switch await submitWhenAllowed(request, job: job, validateOnly: true, until: deadline) {
        case .success(let status):
            submitted = status
            checking[job.id] = status.id  // so that cancelling the job cancels its check
        case .failure(.invalidScript(let error)):
            return CheckOutcome(problem: ("scene discovery", error.description))
        case .failure(let error):
            guard error.field == nil || error.field == "script" else { return CheckOutcome(problem: ("farm", error.description)) }
            return CheckOutcome(problem: ("submission", error.description))
        }
        defer { checking[job.id] = nil }
        if stopped.contains(job.id) { _ = await engine.cancel(videoID: submitted.id) }
        guard let final = await waitUntilFinal(submitted.id, until: deadline, settings: settings) else {
            _ = await engine.cancel(videoID: submitted.id)
            return CheckOutcome(videoID: submitted.id, problem: (
                "planning", "the planning pass did not finish within \(Int(GeminiModel.seconds(settings.checkTimeout))) s: "
                    + "the script may loop forever or do far too much work in construct()"))
        }
        guard final.state == .done else {
            var error = final.error ?? "the planning pass failed"
            if let tail = final.plan?.error?.logTail, !tail.isEmpty {
                error += "\n\nThe end of its output:\n" + Self.plain(String(tail.suffix(6_000))).suffix(4_000)
            }
            // The agents' failures are the farm's, not the script's: no round is spent repairing them.
            let farmFault = final.state == .cancelled || final.plan?.error?.failureClass == .agentError
            return CheckOutcome(videoID: final.id, problem: (farmFault ? "farm" : "planning", farmFault ? "the farm could not check the script: \(error)" : error))
        }
        let planned = final.seconds ?? 0
        let target = job.request.targetSeconds ?? GenerationRequest.defaultTargetSeconds
        if let problem = GenerationPrompts.lengthProblem(planned: planned, target: target) {
            return CheckOutcome(videoID: final.id, plannedSeconds: planned, problem: ("length", problem))
        }
        return CheckOutcome(videoID: final.id, plannedSeconds: planned)
    }

    /// Submits the accepted script as the job's video (once: the job's id is the idempotency key).
    func submitVideo(_ job: GenerationRecord) async -> GenerationRecord {
        guard let settings, let script = job.script else { return job }
        var job = job
        let request = SubmitRequest(script: script, scriptName: Self.scriptName(job.request.prompt), quality: job.request.quality,
                                    idempotencyKey: "\(job.id)-video", priority: job.request.priority)
        switch await submitWhenAllowed(request, job: job, validateOnly: false, until: .now + settings.checkTimeout) {
        case .success(let status):
            // Cancelled while the video was being submitted: it goes too.
            if stopped.contains(job.id) { _ = await engine.cancel(videoID: status.id) }
            job.videoID = status.id
            job.state = .rendering
            logger.info("generation submitted its video", metadata: ["generation": "\(job.id)", "video": "\(status.id)"])
            return await save(job)
        case .failure(let error):
            job.state = .failed
            job.error = "the script planned cleanly but its video was refused: \(error.description)"
            metrics.jobs["failed"]?.increment()
            return await save(job)
        }
    }

    /// Follows the job's video until it ends, and ends the job with it.
    func follow(_ job: GenerationRecord, videoID: String, settings: GenerationSettings) async {
        var job = job
        while !Task.isCancelled, !stopped.contains(job.id) {
            if let status = await engine.status(videoID: videoID), status.state.isFinal {
                job.state = status.state == .done ? .done : .failed
                job.error = status.state == .done ? nil : "the video \(status.state.rawValue): \(status.error ?? "")"
                metrics.jobs[job.state.rawValue]?.increment()
                await save(job)
                logger.info("generation ended", metadata: ["generation": "\(job.id)", "state": "\(job.state.rawValue)"])
                return
            }
            try? await Task.sleep(for: settings.pollInterval * 4)
        }
    }

    /// Submits, waiting while the team is at its quota of concurrent videos (the job's own checks count).
    private func submitWhenAllowed(_ request: SubmitRequest, job: GenerationRecord, validateOnly: Bool,
                                   until deadline: ContinuousClock.Instant) async -> Result<VideoStatus, SubmissionError> {
        var owner = VideoOwner(teamID: job.teamID, userID: job.userID, name: job.submitter, concurrentVideos: nil)
        if let team = job.teamID { owner.concurrentVideos = try? await store.team(team)?.quotas.concurrentVideos }
        while true {
            do {
                return .success(try await engine.submit(request, owner: owner, validateOnly: validateOnly))
            } catch {
                switch error {
                case .tooManyActiveVideos, .notPersisted, .invalidScript(.parserBusy):
                    guard ContinuousClock.now < deadline, (try? await Task.sleep(for: .seconds(2))) != nil else { return .failure(error) }
                default:
                    return .failure(error)
                }
            }
        }
    }

    private func waitUntilFinal(_ videoID: String, until deadline: ContinuousClock.Instant, settings: GenerationSettings) async -> VideoStatus? {
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let status = await engine.status(videoID: videoID), status.state.isFinal { return status }
            try? await Task.sleep(for: settings.pollInterval)
        }
        return nil
    }

    /// A traceback without the frames Manim's console draws around it (tokens the model would pay for and not read).
    static func plain(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line -> String? in
            let kept = String(line.unicodeScalars.filter { !(0x2500...0x257F).contains($0.value) })
                .trimmingCharacters(in: .whitespaces)
            return kept.isEmpty && !line.isEmpty ? nil : kept
        }.joined(separator: "\n")
    }

    /// `a-circle-rolls-along.py` from "A circle rolls along a line, …": the first words, as a file name.
    static func scriptName(_ prompt: String) -> String {
        let words = prompt.lowercased().split { !($0.isASCII && ($0.isLetter || $0.isNumber)) }.prefix(5)
        return (words.isEmpty ? "generated" : words.joined(separator: "-")) + ".py"
    }
}
