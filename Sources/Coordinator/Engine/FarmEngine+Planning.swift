import FarmProtocol
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
    /// scenes), take what the render cache already has, and queue the rest.
    func handlePlanned(_ planned: PlanResult, from peer: Data) async {
        guard var plan = fenced(planned.ref, from: peer), plan.work.kind == .plan, let video = videos[plan.videoID] else {
            return
        }
        let scenes = video.options.scenes
        guard planned.scenes.map(\.scene) == scenes.map(\.name) else {
            await handleFailure(TaskFailure(ref: planned.ref, failureClass: .agentError,
                                            message: "the plan does not match the video's scenes", logTail: ""), from: peer)
            return
        }
        let attempt = complete(&plan, ref: planned.ref)

        let planner = SplitPlanner(costModel: costModel, slots: fleetSlots,
                                   minimumPieceSeconds: configuration.minimumPieceSeconds)
        let pieces = planner.pieces(scenes: scenes, plans: planned.scenes, quality: video.settings.quality,
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
                                              manimVersion: planned.manimVersion),
                note: piece.note)
            return task
        }
        for task in renderTasks { tasks[task.id] = task }
        taskIDsByVideo[video.id, default: []] += renderTasks.map(\.id)
        await writer.enqueue(.planned(plan, attempt, renderTasks))
        logger.info("video planned", metadata: [
            "video": "\(video.id)", "tasks": "\(renderTasks.count)", "scenes": "\(scenes.count)",
            "ranges": "\(pieces.filter { $0.animations != nil }.count)",
            "planSeconds": "\(String(format: "%.2f", planned.seconds))",
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
