import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// The tasks a new video starts with: one plan task, which an agent runs to
    /// learn every scene's animations; or, without splitting, one render task per scene.
    func initialTasks(for video: VideoRecord) -> [TaskRecord] {
        let scenes = video.options.scenes
        if video.options.split && configuration.splitScenes {
            var plan = TaskRecord(id: "\(video.id)-plan", videoID: video.id, ordinal: -1, scene: scenes[0].name,
                                  requiresLaTeX: scenes.contains(where: \.requiresLaTeX), createdAt: video.createdAt)
            plan.work = TaskWork(kind: .plan, note: "plans \(scenes.map(\.name).joined(separator: ", "))")
            return [plan]
        }
        let manimVersion = fleetManimVersion
        return scenes.enumerated().map { ordinal, scene in
            var task = TaskRecord(id: "\(video.id)-\(ordinal)", videoID: video.id, ordinal: ordinal, scene: scene.name,
                                  requiresLaTeX: scene.requiresLaTeX, createdAt: video.createdAt)
            task.work.cacheKey = manimVersion.map {
                RenderCacheKey.make(source: scene.fingerprint ?? video.script, scene: scene.name, animations: nil, settings: video.settings,
                                    encoding: video.encoding, manimVersion: $0)
            }
            return task
        }
    }

    /// The Manim version every connected agent runs, if they agree.
    var fleetManimVersion: String? {
        let versions = Set(agents.values.map(\.record.manimVersion))
        return versions.count == 1 ? versions.first.flatMap { $0 == "unavailable" ? nil : $0 } : nil
    }

    /// Render slots of the connected fleet.
    var fleetSlots: Int {
        max(agents.values.filter(\.acceptsWork).reduce(0) { $0 + $1.record.slots }, 1)
    }

    /// An agent planned a video: create its render tasks (ranges for long
    /// scenes), take what the render cache already has, queue the rest, and
    /// keep the plan for unchanged resubmissions.
    func handlePlanned(_ planned: PlanResult, from peer: Data) async {
        guard var plan = fenced(planned.ref, from: peer), plan.work.kind == .plan, let video = videos[plan.videoID] else {
            return
        }
        let scenes = video.options.scenes
        guard planned.scenes.map(\.scene) == scenes.map(\.name) else {
            await handleFailure(TaskFailure(ref: planned.ref, reason: .invalidReport,
                                            message: "the plan does not match the video's scenes", logTail: ""), from: peer)
            return
        }
        let attempt = complete(&plan, ref: planned.ref)
        await createRenderTasks(video, plan: plan, attempt: attempt, plans: planned.scenes,
                                manimVersion: planned.manimVersion, planSeconds: planned.seconds)
        guard configuration.renderCache, video.options.useCache else { return }
        let key = PlanCacheKey.make(script: video.script, scenes: scenes.map(\.name), settings: video.settings,
                                    manimVersion: planned.manimVersion)
        await writer.enqueue(.cachedPlan(CachedPlan(planKey: key, scenes: planned.scenes, manimVersion: planned.manimVersion,
                                                    createdAt: Date())))
    }

    /// A video whose script, scenes, settings and Manim version were planned
    /// before takes that plan instead of running the planning pass again.
    func planFromCache(videoID: String) async {
        guard configuration.renderCache, let video = videos[videoID], video.options.useCache,
              let manimVersion = fleetManimVersion,
              let planID = taskIDsByVideo[videoID]?.first(where: { tasks[$0]?.work.kind == .plan && tasks[$0]?.state == .pending })
        else { return }
        let key = PlanCacheKey.make(script: video.script, scenes: video.options.scenes.map(\.name), settings: video.settings,
                                    manimVersion: manimVersion)
        // Held back from dispatch until looked up: a cached plan must not also be run.
        cacheLookups.insert(planID)
        defer {
            cacheLookups.remove(planID)
            scheduleDispatch()
        }
        guard let cached = try? await store.cachedPlan(key: key),
              cached.scenes.map(\.scene) == video.options.scenes.map(\.name),
              var plan = tasks[planID], plan.state == .pending, let current = videos[videoID] else { return }
        let now = Date()
        plan.state = .done
        plan.attempt += 1
        plan.updatedAt = now
        plan.work.note = "plan from the cache"
        tasks[planID] = plan
        var attempt = AttemptRecord(taskID: planID, attempt: plan.attempt, agentID: "plan-cache", startedAt: now)
        attempt.endedAt = now
        attempt.outcome = "done"
        metrics.cacheHits.increment()
        await createRenderTasks(current, plan: plan, attempt: attempt, plans: cached.scenes, manimVersion: cached.manimVersion,
                                planSeconds: 0)
    }

    /// Creates a planned video's render tasks (ranges for long scenes), commits
    /// them with the finished plan, takes what the render cache has and queues the rest.
    private func createRenderTasks(_ video: VideoRecord, plan: TaskRecord, attempt: AttemptRecord, plans: [ScenePlan],
                                   manimVersion: String, planSeconds: Double) async {
        let scenes = video.options.scenes
        let planner = SplitPlanner(costModel: costModel, slots: fleetSlots,
                                   minimumPieceSeconds: configuration.minimumPieceSeconds)
        let pieces = planner.pieces(scenes: scenes, plans: plans, quality: video.settings.quality,
                                    split: video.options.split)
        let renderTasks = pieces.enumerated().map { ordinal, piece in
            var task = TaskRecord(id: "\(video.id)-\(ordinal)", videoID: video.id, ordinal: ordinal, scene: piece.scene.name,
                                  requiresLaTeX: piece.scene.requiresLaTeX, createdAt: plan.updatedAt)
            task.work = TaskWork(
                kind: .render, animations: piece.animations, expectedFrames: piece.frames,
                estimatedSeconds: piece.estimatedSeconds, dispatchRank: piece.rank,
                cacheKey: RenderCacheKey.make(source: piece.scene.fingerprint ?? video.script, scene: piece.scene.name,
                                              animations: piece.animations,
                                              settings: video.settings, encoding: video.encoding,
                                              manimVersion: manimVersion),
                note: piece.note)
            return task
        }
        for task in renderTasks { tasks[task.id] = task }
        taskIDsByVideo[video.id, default: []] += renderTasks.map(\.id)
        await writer.enqueue(.planned(plan, attempt, renderTasks))
        logger.info("video planned", metadata: [
            "video": "\(video.id)", "tasks": "\(renderTasks.count)", "scenes": "\(scenes.count)",
            "ranges": "\(pieces.filter { $0.animations != nil }.count)",
            "planSeconds": "\(String(format: "%.2f", planSeconds))", "fromCache": "\(attempt.agentID == "plan-cache")",
        ])
        await takeFromCache(videoID: video.id)
        scheduleDispatch()
    }

    /// The plan task failed for good: render every scene whole, unestimated.
    func planWithoutSplitting(_ plan: TaskRecord, attempt: AttemptRecord, because failure: TaskFailure) async {
        guard var video = videos[plan.videoID] else { return }
        video.options.split = false
        var renders = initialTasks(for: video)
        let reason = "not split: planning failed (\(failure.failureClass.rawValue): \(failure.message))"
        for index in renders.indices {
            renders[index].work.note = reason
            renders[index].updatedAt = Date()
            tasks[renders[index].id] = renders[index]
        }
        taskIDsByVideo[video.id, default: []] += renders.map(\.id)
        await writer.enqueue(.planned(plan, attempt, renders))
        logger.warning("planning failed; rendering scenes whole", metadata: [
            "video": "\(video.id)", "class": "\(failure.failureClass.rawValue)", "message": "\(failure.message)",
        ])
        await takeFromCache(videoID: video.id)
        scheduleDispatch()
    }

    /// A video's render tasks (not its plan), in playback order.
    func renderTasks(of videoID: String) -> [TaskRecord] {
        (taskIDsByVideo[videoID] ?? []).compactMap { tasks[$0] }.filter { $0.work.kind == .render }
            .sorted { $0.ordinal < $1.ordinal }
    }
}
