import FarmModel
import FarmStorage
import Foundation

/// One job's life: reuse a cached script or write one in rounds (ask, extract, check, repair), submit it,
/// and follow its video to the end. Every step is written to the store before the next begins, so a restarted
/// coordinator continues where this one stopped (a round cut short is told so, and a new one starts).
extension Generations {
    func run(_ id: String) async {
        guard let settings else { return }
        defer { Task { await self.release(id) } }
        guard var job = await load(id), !job.state.isFinal else { return }
        if job.videoID == nil {
            if let open = job.rounds.indices.last, job.rounds[open].endedAt == nil {
                job.rounds[open].error = "the coordinator restarted during this round"
                job.rounds[open].stage = "interrupted"
                job.rounds[open].endedAt = Date()
            }
            if job.script == nil { job = await write(job, settings: settings) }
            guard !job.state.isFinal, !Task.isCancelled, !stopped.contains(id) else { return }
            job = await submitVideo(job)
        }
        guard !job.state.isFinal, let videoID = job.videoID else { return }
        await follow(job, videoID: videoID, settings: settings)
    }

    private func release(_ id: String) {
        for team in active.keys { active[team]?.remove(id) }
        stopped.remove(id)
        checking[id] = nil
    }

    private func load(_ id: String) async -> GenerationRecord? {
        var delay: Duration = .milliseconds(200)
        while !Task.isCancelled {
            do { return try await store.generation(id: id) } catch {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        return nil
    }

    /// Writes `job` down, retrying while the store does not answer (a job is never lost for a slow store).
    @discardableResult
    func save(_ job: GenerationRecord) async -> GenerationRecord {
        guard !stopped.contains(job.id) else { return job }
        var job = job
        job.updatedAt = Date()
        var delay: Duration = .milliseconds(200)
        while true {
            do {
                try await store.saveGeneration(job)
                return job
            } catch {
                logger.warning("a generation could not be written; trying again", metadata: ["generation": "\(job.id)", "error": "\(error)"])
                guard (try? await Task.sleep(for: delay)) != nil else { return job }
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func fail(_ job: GenerationRecord, _ error: String) async -> GenerationRecord {
        var job = job
        job.state = .failed
        job.error = error
        metrics.jobs["failed"]?.increment()
        logger.info("generation failed", metadata: ["generation": "\(job.id)", "rounds": "\(job.rounds.count)"])
        return await save(job)
    }

    // MARK: Writing the script

    /// The script: from the cache, else from the model in rounds until one plans cleanly or the rounds run out.
    private func write(_ job: GenerationRecord, settings: GenerationSettings) async -> GenerationRecord {
        var job = job
        // The agents' Manim: its names go into the system prompt, its version into the cache key.
        let manim: ManimAPI
        do { manim = try await api.current(within: settings.checkTimeout) } catch { return await fail(job, "\(error)") }
        job.manimVersion = manim.version
        let key = Self.cacheKey(job)
        if job.request.fresh != true, job.rounds.isEmpty, let cached = try? await store.generation(cacheKey: key), let script = cached.script {
            job.script = script
            job.reusedFrom = cached.id
            job.cacheKey = key
            return await save(job)
        }
        let system = GenerationPrompts.system(api: manim)
        while job.rounds.count < settings.maxRounds, !Task.isCancelled, !stopped.contains(job.id) {
            if let team = job.teamID, let quotas = try? await store.team(team)?.quotas,
               let refusal = try? await budgetRefusal(team: team, quotas: quotas) {
                return await fail(job, refusal.description)
            }
            // A repair of the last script that failed, or the prompt itself (again, after an interrupted first round).
            let request = job.rounds.last { $0.script != nil && $0.error != nil }
                .map { GenerationPrompts.repair(stage: $0.stage ?? "validation", error: $0.error ?? "") } ?? GenerationPrompts.first(job.request)
            job.rounds.append(GenerationRound(number: job.rounds.count + 1, request: request, startedAt: Date()))
            job.state = .writing
            job = await save(job)
            let index = job.rounds.count - 1

            let reply: ModelReply
            do {
                reply = try await settings.model.write(system: system, conversation: Self.conversation(job.rounds))
            } catch {
                job.rounds[index].error = error.description
                job.rounds[index].stage = "model"
                job.rounds[index].endedAt = Date()
                metrics.ended("model")
                return await fail(job, error.description)
            }
            await meter(team: job.teamID, reply: reply, prices: settings.model.prices)
            job.rounds[index].promptTokens = reply.promptTokens
            job.rounds[index].outputTokens = reply.outputTokens
            job.tokens = job.tokens.addingReportingOverflow(reply.promptTokens + reply.outputTokens).partialValue
            job.costUSD += settings.model.prices.dollars(promptTokens: reply.promptTokens, outputTokens: reply.outputTokens)

            guard let script = GenerationPrompts.script(in: reply.text) else {
                job.rounds[index].script = String(reply.text.prefix(20_000))
                job.rounds[index].error = "the answer held no Python code block"
                job.rounds[index].stage = "script"
                job.rounds[index].endedAt = Date()
                metrics.ended("script")
                continue
            }
            job.rounds[index].script = script
            job.state = .validating
            job = await save(job)
            let check = await self.check(job, script: script, round: job.rounds[index].number, settings: settings)
            job.rounds[index].validationVideo = check.videoID
            job.rounds[index].plannedSeconds = check.plannedSeconds
            job.rounds[index].endedAt = Date()
            metrics.ended(check.problem?.stage)
            if let problem = check.problem {
                job.rounds[index].error = problem.error
                job.rounds[index].stage = problem.stage
                if problem.stage == "farm" { return await fail(job, problem.error) }
                continue
            }
            job.script = script
            job.cacheKey = key
            logger.info("generation validated", metadata: ["generation": "\(job.id)", "round": "\(index + 1)", "tokens": "\(job.tokens)"])
            return await save(job)
        }
        let last = job.rounds.last.map { "; the last (\($0.stage ?? "?")): \($0.error ?? "")" } ?? ""
        return await fail(job, "no script planned cleanly in \(job.rounds.count) round\(job.rounds.count == 1 ? "" : "s")\(last)")
    }

    /// The conversation so far: each earlier request the model answered, with its answer, then the current request.
    /// Rounds cut short (no answer) are left out, so the turns alternate as the provider expects.
    static func conversation(_ rounds: [GenerationRound]) -> [ModelTurn] {
        guard let current = rounds.last else { return [] }
        let answered = rounds.dropLast().flatMap { round -> [ModelTurn] in
            guard let script = round.script else { return [] }
            // An answer without a code block is given back as it was, not dressed as code.
            let answer = round.stage == "script" ? script : "```python\n\(script)```"
            return [ModelTurn(.person, round.request), ModelTurn(.model, answer)]
        }
        return answered + [ModelTurn(.person, current.request)]
    }
}
