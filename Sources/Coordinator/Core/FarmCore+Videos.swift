import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// One video's life, in order: accepted (or resumed), planned (by an agent or from
/// the plan cache), its scenes taken from the render cache where they can be,
/// rendered (`FarmCore+Dispatch`, `FarmCore+Attempts`), assembled, and ended.
extension FarmCore {
    // MARK: Start

    /// Loads unfinished videos. Attempts that were running when the coordinator stopped
    /// stay assigned for one lease: an agent that still renders one re-registers and hands
    /// in its result; attempts whose agent does not come back go back to the queue.
    mutating func resume(_ unfinished: [(VideoRecord, [TaskRecord])], openAttempts open: [AttemptRecord],
                         now: ContinuousClock.Instant) {
        for attempt in open {
            openAttempts[AttemptRef(taskID: attempt.taskID, attempt: attempt.attempt)] = attempt
        }
        for (video, videoTasks) in unfinished {
            videos[video.id] = video
            taskIDsByVideo[video.id] = videoTasks.map(\.id)
            for task in videoTasks {
                if task.state == .running { orphanedSince[task.id] = now }
                put(task)
            }
            logger.info("resumed video", metadata: ["video": "\(video.id)", "state": "\(video.state)"])
            let renders = videoTasks.filter { $0.work.kind == .render }
            if video.state == .assembling || (!renders.isEmpty && renders.allSatisfy({ $0.state == .done })) {
                startAssembly(video.id)
            }
        }
        emit(.requestDispatch)
    }

    /// The tasks a new video starts with: one plan task, which an agent runs to learn
    /// every scene's animations; or, without splitting, one render task per scene.
    public func initialTasks(for video: VideoRecord) -> [TaskRecord] {
        let scenes = video.options.scenes
        // A check of a generated script is its planning pass, whatever the farm's settings.
        if video.options.validateOnly == true || (video.options.split && configuration.splitScenes) {
            var plan = TaskRecord(id: "\(video.id)-plan", videoID: video.id, ordinal: -1, scene: scenes[0].name,
                                  requiresLaTeX: scenes.contains(where: \.requiresLaTeX), createdAt: video.createdAt)
            plan.work = TaskWork(kind: .plan, note: "plans \(scenes.map(\.name).joined(separator: ", "))")
            return [plan]
        }
        let manimVersion = fleetRenderIdentity
        return scenes.enumerated().map { ordinal, scene in
            var task = TaskRecord(id: "\(video.id)-\(ordinal)", videoID: video.id, ordinal: ordinal, scene: scene.name,
                                  requiresLaTeX: scene.requiresLaTeX, createdAt: video.createdAt)
            task.work.cacheKey = manimVersion.map {
                RenderCacheKey.make(source: video.withAssets(scene.fingerprint ?? video.script), scene: scene.name, animations: nil,
                                    settings: video.settings, encoding: video.encoding, manimVersion: $0)
            }
            task.work.cacheIdentity = manimVersion  // whole scenes render anywhere; only a render in this identity is cached
            return task
        }
    }

    /// A durable new video: queued, its plan looked up in the plan cache, its scenes in the render cache.
    mutating func accept(_ video: VideoRecord, _ videoTasks: [TaskRecord]) {
        guard videos[video.id] == nil, !video.state.isFinal else { return }
        videos[video.id] = video
        taskIDsByVideo[video.id] = videoTasks.map(\.id)
        for task in videoTasks { put(task) }
        logger.info("accepted video", metadata: [
            "video": "\(video.id)", "scenes": "\(video.options.scenes.map(\.name).joined(separator: ","))",
            "quality": "\(video.settings.quality.rawValue)", "submitter": "\(video.options.submitter)",
            "priority": "\(video.options.priority)",
        ])
        lookUpCachedPlan(video.id)
        lookUpCachedRenders(video.id)
        emit(.requestDispatch)
    }

    // MARK: Planning

    /// A video whose script, scenes, settings and Manim version were planned before
    /// takes that plan instead of running the planning pass again: look it up first.
    mutating func lookUpCachedPlan(_ videoID: String) {
        guard configuration.renderCache, let video = videos[videoID], video.options.useCache,
              let manimVersion = fleetRenderIdentity,
              let planID = taskIDsByVideo[videoID]?.first(where: { tasks[$0]?.work.kind == .plan && tasks[$0]?.state == .pending })
        else { return }
        let key = PlanCacheKey.make(script: video.withAssets(video.script), scenes: video.options.scenes.map(\.name), settings: video.settings,
                                    manimVersion: manimVersion)
        cacheLookups.insert(planID)  // held back from dispatch: a cached plan must not also be run
        emit(.lookUpCachedPlan(videoID: videoID, planTaskID: planID, key: key))
    }

    mutating func takePlanFromCache(videoID: String, planTaskID: String, _ cached: CachedPlan?) {
        cacheLookups.remove(planTaskID)
        emit(.requestDispatch)
        guard let cached, let video = videos[videoID], cached.scenes.map(\.scene) == video.options.scenes.map(\.name),
              var plan = tasks[planTaskID], plan.state == .pending else { return }
        let now = Date()
        plan.state = .done
        plan.attempt += 1
        plan.updatedAt = now
        plan.work.note = "plan from the cache"
        put(plan)
        var attempt = AttemptRecord(taskID: planTaskID, attempt: plan.attempt, agentID: "plan-cache", startedAt: now)
        attempt.endedAt = now
        attempt.outcome = "done"
        cacheHits += 1
        createRenderTasks(video, plan: plan, attempt: attempt, plans: cached.scenes, planSeconds: 0,
                          manimVersion: cached.manimVersion)
    }

    /// An agent planned a video: create its render tasks (ranges for long scenes), and
    /// keep the plan for unchanged resubmissions.
    mutating func plan(_ planned: PlanResult, from peer: Data, generated: [AssetRef] = []) {
        guard var plan = fenced(planned.ref, from: peer), plan.work.kind == .plan, var video = videos[plan.videoID] else { return }
        let scenes = video.options.scenes
        guard planned.scenes.map(\.scene) == scenes.map(\.name) else {
            failAttempt(plan, TaskFailure(ref: planned.ref, reason: .invalidReport,
                                          message: "the plan does not match the video's scenes", logTail: ""), now: .now)
            return
        }
        if !generated.isEmpty {
            // The narration the pass spoke and the LaTeX it compiled go with every task from now on, as submitted
            // files do (a newer version of a file, the voiceover cache's index, replaces the older).
            let names = Set(generated.map(\.name))
            video.options.assets = (video.options.assets ?? []).filter { !names.contains($0.name) } + generated
            video.updatedAt = Date()
            videos[video.id] = video
            persist(.video(video))
        }
        let attempt = complete(&plan, ref: planned.ref)
        createRenderTasks(video, plan: plan, attempt: attempt, plans: planned.scenes, planSeconds: planned.seconds,
                          manimVersion: planned.manimVersion)
        // A plan whose pass spoke narration is not cached: a cached plan comes without it. The LaTeX a pass compiled
        // only saves time: without it, the renders of a cached plan compile their own.
        let narrated = generated.contains { !$0.name.hasPrefix(GeneratedFile.texFolder) }
        if configuration.renderCache && video.options.useCache && !narrated {
            let key = PlanCacheKey.make(script: video.withAssets(video.script), scenes: scenes.map(\.name), settings: video.settings,
                                        manimVersion: planned.manimVersion)
            persist(.cachedPlan(CachedPlan(planKey: key, scenes: planned.scenes, manimVersion: planned.manimVersion,
                                           createdAt: Date())))
        }
    }

    /// Creates a planned video's render tasks (ranges for long scenes), commits them
    /// with the finished plan, and looks up what the render cache has.
    mutating func createRenderTasks(_ video: VideoRecord, plan: TaskRecord, attempt: AttemptRecord, plans: [ScenePlan],
                                    planSeconds: Double, manimVersion: String) {
        if video.options.validateOnly == true {
            return endCheck(video, plan: plan, attempt: attempt, plans: plans)
        }
        var planner = SplitPlanner(costModel: costModel, slots: fleetSlots, minimumPieceSeconds: configuration.minimumPieceSeconds)
        planner.headFirst = configuration.objectOutputs != nil
        let pieces = planner.pieces(scenes: video.options.scenes, plans: plans, quality: video.settings.quality,
                                    split: video.options.split)
        if let refusal = budgetRefusal(video, estimate: pieces.reduce(0) { $0 + $1.estimatedSeconds }) {
            // Refused before any render starts: the plan is kept done, the video fails with the numbers.
            persist(.planned(plan, attempt, []))
            var failed = video
            failed.state = .failed
            failed.error = refusal
            finish(failed, reason: "over the team's render-seconds quota")
            return
        }
        let renderTasks = pieces.enumerated().map { ordinal, piece in
            var task = TaskRecord(id: "\(video.id)-\(ordinal)", videoID: video.id, ordinal: ordinal, scene: piece.scene.name,
                                  requiresLaTeX: piece.scene.requiresLaTeX, createdAt: plan.updatedAt)
            // A still (a scene without animations) is on screen for the video's still length.
            let stillFrames = Int(((video.settings.stillSeconds ?? 0) * Double(video.settings.quality.frameRate)).rounded())
            task.work = TaskWork(
                kind: .render, animations: piece.animations, expectedFrames: piece.frames > 0 ? piece.frames : max(stillFrames, 0),
                estimatedSeconds: piece.estimatedSeconds, dispatchRank: piece.rank,
                cacheKey: RenderCacheKey.make(source: video.withAssets(piece.scene.fingerprint ?? video.script), scene: piece.scene.name,
                                              animations: piece.animations, settings: video.settings,
                                              encoding: video.encoding, manimVersion: manimVersion),
                note: piece.note)
            // Ranges of one scene join seamlessly only when one environment drew them all: the planner's.
            task.work.environment = manimVersion
            task.work.cacheIdentity = manimVersion
            // Every task of a scene with sounds carries what the scene's share of the sound track is made of.
            task.work.sounds = plans.first { $0.scene == piece.scene.name }?.soundEvents.flatMap { $0.isEmpty ? nil : $0 }
            return task
        }
        for task in renderTasks { put(task) }
        taskIDsByVideo[video.id, default: []] += renderTasks.map(\.id)
        persist(.planned(plan, attempt, renderTasks))
        logger.info("video planned", metadata: [
            "video": "\(video.id)", "tasks": "\(renderTasks.count)", "scenes": "\(video.options.scenes.count)",
            "ranges": "\(pieces.filter { $0.animations != nil }.count)",
            "planSeconds": "\(String(format: "%.2f", planSeconds))", "fromCache": "\(attempt.agentID == "plan-cache")",
        ])
        lookUpCachedRenders(video.id)
        emit(.requestDispatch)
    }

    /// A check of a generated script planned cleanly: it ends `done` with the planned length, and nothing renders.
    private mutating func endCheck(_ video: VideoRecord, plan: TaskRecord, attempt: AttemptRecord, plans: [ScenePlan]) {
        persist(.planned(plan, attempt, []))
        var checked = video
        checked.state = .done
        checked.frames = plans.reduce(0) { $0 + $1.frames }
        checked.seconds = plans.reduce(0.0) { total, scene in total + scene.animations.reduce(0.0) { $0 + $1.seconds } }
        finish(checked, reason: "the check of a generated script planned cleanly")
    }

    /// Why `video`, estimated at `estimate` seconds of rendering, would exceed its team's daily
    /// render-seconds quota, counting what the team used today and the estimates of its other
    /// videos' unfinished renders; `nil` if it fits or the team has no quota.
    func budgetRefusal(_ video: VideoRecord, estimate: Double) -> String? {
        guard let team = video.teamID, let budget = renderBudgets[team] else { return nil }
        var committed = 0.0
        for (videoID, other) in videos where other.teamID == team && videoID != video.id {
            for id in taskIDsByVideo[videoID] ?? [] {
                guard let task = tasks[id], !task.state.isFinal, task.work.kind == .render else { continue }
                committed += task.work.estimatedSeconds ?? 0
            }
        }
        guard budget.usedSeconds + committed + estimate > budget.limitSeconds else { return nil }
        return "this video needs about \(Int(estimate.rounded(.up))) render-seconds; your team has used \(Int(budget.usedSeconds)) "
            + "and has \(Int(committed.rounded(.up))) more queued of its \(Int(budget.limitSeconds)) per day (UTC); "
            + "submit it tomorrow or ask an admin to raise the quota"
    }

    /// The plan task failed for good: render every scene whole, unestimated, so each
    /// render fails (or not) on its own scene and the user learns which scene is broken.
    mutating func planWithoutSplitting(_ plan: TaskRecord, attempt: AttemptRecord, because failure: TaskFailure) {
        guard var video = videos[plan.videoID] else { return }
        if video.options.validateOnly == true {
            // A check's failure is its answer: the pass's error, for the model to repair.
            persist(.planned(plan, attempt, []))
            video.state = .failed
            video.error = "planning failed (\(failure.failureClass.rawValue)): \(failure.message)"
            return finish(video, reason: "the check of a generated script failed")
        }
        video.options.split = false
        var renders = initialTasks(for: video)
        let reason = "not split: planning failed (\(failure.failureClass.rawValue): \(failure.message))"
        for index in renders.indices {
            renders[index].work.note = reason
            renders[index].updatedAt = Date()
            put(renders[index])
        }
        taskIDsByVideo[video.id, default: []] += renders.map(\.id)
        persist(.planned(plan, attempt, renders))
        logger.warning("planning failed; rendering scenes whole", metadata: [
            "video": "\(video.id)", "class": "\(failure.failureClass.rawValue)",
            "message": "\(failure.failureClass == .scriptError ? "(the script's, see the API)" : failure.message)",
        ])
        lookUpCachedRenders(video.id)
        emit(.requestDispatch)
    }

    // MARK: The render cache

    /// Holds back every pending render task of the video with a content hash and asks
    /// for the cache's renders of them: a cached scene must not also be rendered.
    mutating func lookUpCachedRenders(_ videoID: String) {
        guard configuration.renderCache, let video = videos[videoID], video.options.useCache else { return }
        let candidates: [(taskID: String, key: String)] = (taskIDsByVideo[videoID] ?? []).compactMap { id in
            guard let task = tasks[id], task.state == .pending, task.work.kind == .render, !cacheLookups.contains(id),
                  let key = task.work.cacheKey else { return nil }
            return (id, key)
        }
        guard !candidates.isEmpty else { return }
        cacheLookups.formUnion(candidates.map(\.taskID))
        emit(.lookUpCachedRenders(videoID: videoID, candidates))
    }

    /// Completes every looked-up task the cache had; assembles if nothing is left to render.
    mutating func takeRendersFromCache(videoID: String, looked: [String], hits: [String: TaskResult]) {
        cacheLookups.subtract(looked)
        emit(.requestDispatch)
        guard videos[videoID] != nil else {
            if !hits.isEmpty { emit(.discardVideoFiles(videoID: videoID)) }  // adopted for a video that ended meanwhile
            return
        }
        for id in looked {
            guard var task = tasks[id], task.state == .pending, var result = hits[id] else { continue }
            result.ref = AttemptRef(taskID: id, attempt: task.attempt)
            task.state = .done
            task.result = result
            task.framesDone = result.frames
            task.work.note = "from the render cache"
            task.updatedAt = Date()
            put(task)
            persist(.task(task))
            cacheHits += 1
            logger.info("taken from the render cache", metadata: ["task": "\(id)", "scene": "\(task.scene)"])
        }
        startAssemblyIfRendered(videoID)
    }

    // MARK: Assembly and the end

    mutating func startAssemblyIfRendered(_ videoID: String) {
        if rendersLeft[videoID] == 0 { startAssembly(videoID) }
    }

    /// Joins a video's accepted scenes into its HLS ladder and MP4 (the runner packages).
    mutating func startAssembly(_ videoID: String) {
        guard var video = videos[videoID], !assembling.contains(videoID) else { return }
        let renders = renderTasks(of: videoID)
        guard !renders.isEmpty, renders.allSatisfy({ $0.state == .done }) else { return }
        assembling.insert(videoID)
        video.state = .assembling
        video.updatedAt = Date()
        videos[videoID] = video
        persist(.video(video))
        emit(.assemble(video, renders))
    }

    mutating func finishAssembly(videoID: String, _ outcome: AssemblyOutcome) {
        assembling.remove(videoID)
        guard var video = videos[videoID] else { return }  // cancelled while assembling
        switch outcome {
        case .published(let frames, let seconds):
            video.state = .done
            video.frames = frames
            video.seconds = seconds
            video.error = nil
            logger.info("video published", metadata: ["video": "\(videoID)", "frames": "\(frames)"])
        case .failed(let why):
            video.state = .failed
            video.error = "could not assemble the video: \(why)"
        }
        finish(video, reason: video.error ?? "done")
    }

    /// Cancels a video: running attempts are told to stop at once and their slots freed.
    mutating func cancel(videoID: String) {
        guard var video = videos[videoID] else { return }
        video.state = .cancelled
        video.error = "cancelled"
        finish(video, reason: "cancelled by request")
    }

    /// Ends a video (its final state already set): marks its unfinished tasks cancelled,
    /// stops their attempts, persists, and forgets it.
    mutating func finish(_ video: VideoRecord, reason: String) {
        var video = video
        video.updatedAt = Date()
        for id in taskIDsByVideo[video.id] ?? [] {
            guard var task = tasks[id], !task.state.isFinal else { continue }
            let ref = AttemptRef(taskID: id, attempt: task.attempt)
            if task.state == .running, let agentID = task.agentID {
                if let agent = agents[agentID] {
                    agents[agentID]?.running.remove(ref)
                    emit(.send(.cancel(Cancel(ref: ref)), to: agent.peer))
                }
            }
            task.state = .cancelled
            task.updatedAt = Date()
            put(task)
            if openAttempts[ref] != nil {
                persist(.attempt(task, closeAttempt(ref, agentID: task.agentID, outcome: "cancelled")))
            } else {
                persist(.task(task))
            }
        }
        forget(videoID: video.id)
        emit(.discardVideoFiles(videoID: video.id))
        persist(.video(video))
        logger.info("video ended", metadata: ["video": "\(video.id)", "state": "\(video.state)", "reason": "\(reason)"])
        emit(.requestDispatch)
    }

    private mutating func forget(videoID: String) {
        for id in taskIDsByVideo[videoID] ?? [] {
            if let task = tasks[id] { openAttempts[AttemptRef(taskID: id, attempt: task.attempt)] = nil }
            tasks[id] = nil
            retryNotBefore[id] = nil
            lastFailedAgent[id] = nil
            orphanedSince[id] = nil
            cacheLookups.remove(id)
        }
        taskIDsByVideo[videoID] = nil
        rendersLeft[videoID] = nil
        agentFailures[videoID] = nil
        unplaceableSince[videoID] = nil
        videos[videoID] = nil
        assembling.remove(videoID)
    }

    /// Ends an attempt's history record with `outcome`.
    mutating func closeAttempt(_ ref: AttemptRef, agentID: String?, outcome: String, logTail: String? = nil) -> AttemptRecord {
        var attempt = openAttempts.removeValue(forKey: ref)
            ?? AttemptRecord(taskID: ref.taskID, attempt: ref.attempt, agentID: agentID ?? "", startedAt: Date())
        attempt.endedAt = Date()
        attempt.outcome = outcome
        attempt.logTail = logTail
        // Agent time counts against the team's daily quota whatever the outcome: a slot was busy.
        if let team = tasks[ref.taskID].flatMap({ videos[$0.videoID] })?.teamID, attempt.agentID != "plan-cache", !attempt.agentID.isEmpty {
            emit(.meterRenderTime(teamID: team, seconds: max(0, attempt.endedAt!.timeIntervalSince(attempt.startedAt))))
        }
        return attempt
    }
}
