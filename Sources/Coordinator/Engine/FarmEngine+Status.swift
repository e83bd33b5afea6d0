import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// The status of any video, live or finished; `nil` if unknown.
    public func status(videoID: String) async -> VideoStatus? {
        guard var status = await readStatus(videoID: videoID) else { return nil }
        status.progress = VideoProgress(status)
        return status
    }

    private func readStatus(videoID: String) async -> VideoStatus? {
        if let live = currentStatus(videoID) { return live }
        // A video the core just ended may not be written yet: read after the writes, not before.
        _ = await writer.waitForQueued(timeout: .seconds(2))
        if let live = currentStatus(videoID) { return live }
        guard let video = try? await store.video(id: videoID),
              let videoTasks = try? await store.tasks(videoID: videoID) else { return nil }
        return makeStatus(video, videoTasks)
    }

    /// Who owns a video, live or finished; `nil` if unknown.
    public func owner(videoID: String) async -> (teamID: String?, userID: String?)? {
        if let video = core.videos[videoID] { return (video.teamID, video.userID) }
        _ = await writer.waitForQueued(timeout: .seconds(2))
        if let video = core.videos[videoID] { return (video.teamID, video.userID) }
        guard let video = try? await store.video(id: videoID) else { return nil }
        return (video.teamID, video.userID)
    }

    /// A page of videos, newest first, without scripts: the store's rows with the live state of those still running.
    public func videoSummaries(teamID: String?, after: String?, limit: Int) async throws -> [VideoSummary] {
        _ = await writer.waitForQueued(timeout: .seconds(2))
        return try await store.videoSummaries(teamID: teamID, after: after, limit: limit).map { summary in
            guard let live = core.videos[summary.id] else { return summary }
            var summary = summary
            summary.state = live.state
            summary.updatedAt = live.updatedAt
            summary.error = live.error
            return summary
        }
    }

    /// Videos not yet final, with their progress: what `GET /v1/events` watches.
    public func liveSummaries() -> [VideoSummary] {
        core.videos.keys.compactMap { id in
            guard let status = currentStatus(id) else { return nil }
            return Self.summary(of: status)
        }
    }

    static func summary(of status: VideoStatus) -> VideoSummary {
        var summary = VideoSummary(
            id: status.id, state: status.state, scriptName: status.scriptName, quality: status.quality, priority: status.priority,
            submitter: status.submitter, teamID: status.teamID, createdAt: status.createdAt, updatedAt: status.updatedAt,
            error: status.error, frames: status.frames, seconds: status.seconds)
        summary.progress = VideoProgress(status)
        return summary
    }

    /// Teams with videos not yet final.
    public func activeTeamIDs() -> Set<String> {
        Set(core.videos.values.compactMap(\.teamID))
    }

    /// Drains (or undrains) a connected agent; its status, or `nil` if no such agent is connected.
    public func drain(agentID: String, _ drain: Bool) async -> AgentStatus? {
        guard core.agents[agentID] != nil else { return nil }
        await apply(.drainRequested(agentID: agentID, drain: drain))
        return agentStatuses().first { $0.id == agentID }
    }

    /// Connected agents.
    public func agentStatuses() -> [AgentStatus] {
        let now = ContinuousClock.now
        return core.agents.values.sorted { $0.record.id < $1.record.id }.map { agent in
            var status = AgentStatus(
                id: agent.record.id, hostname: agent.record.hostname, slots: agent.record.slots,
                running: agent.running.count, reportedRunning: agent.reportedRunning, cores: agent.record.cores, manimVersion: agent.record.manimVersion,
                hasLaTeX: agent.record.hasLaTeX, draining: !agent.acceptsWork,
                lastSeenSecondsAgo: Self.seconds(now - agent.lastSeen))
            status.environment = agent.record.environment
            status.tasks = agent.running.compactMap { core.tasks[$0.taskID] }.map { "\($0.scene) (\($0.videoID))" }.sorted()
            return status
        }
    }

    /// Counters for operators.
    public func stats() -> FarmStats {
        var stats = FarmStats(malformedMessages: malformedMessages, refusedReports: core.refusedReports, queueDepth: queueDepth,
                  runningTasks: core.tasks.values.filter { $0.state == .running }.count, agents: core.agents.count,
                  activeVideos: core.videos.count, assignments: core.assignmentsMade,
                  dispatchSeconds: Self.seconds(dispatchTime), largestDispatchRound: largestDispatchRound.assignments,
                  largestDispatchRoundSeconds: Self.seconds(largestDispatchRound.time))
        if configuration.objectOutputs != nil {
            stats.objectStore = ObjectStoreTraffic(agentBytes: traffic.agentBytes,
                                                   coordinatorBytes: traffic.relayedBytes + traffic.replacedBytes,
                                                   mp4Bytes: traffic.mp4Bytes)
        }
        return stats
    }

    /// Tasks waiting for an agent, across all videos.
    public var queueDepth: Int {
        core.queueDepth
    }

    func currentStatus(_ videoID: String) -> VideoStatus? {
        guard let video = core.videos[videoID] else { return nil }
        return makeStatus(video, (core.taskIDsByVideo[videoID] ?? []).compactMap { core.tasks[$0] })
    }

    func makeStatus(_ video: VideoRecord, _ videoTasks: [TaskRecord]) -> VideoStatus {
        let anyAgent = core.agents.values.contains(where: \.acceptsWork)
        let latexAgent = core.agents.values.contains { $0.acceptsWork && $0.record.hasLaTeX }
        let ordered = videoTasks.sorted { $0.ordinal < $1.ordinal }
        let statuses = ordered.map { task in
            var waiting: String?
            if task.state == .pending {
                if !anyAgent {
                    waiting = "no agent is connected"
                } else if task.requiresLaTeX && !latexAgent {
                    waiting = "the scene uses LaTeX and no connected agent has LaTeX installed"
                } else {
                    waiting = "a free agent slot"
                }
            }
            var scene = SceneStatus(
                name: task.scene, state: task.state, attempt: task.attempt, retriesSpent: task.failures, agent: task.agentID,
                framesDone: task.result?.frames ?? task.framesDone, frames: task.result?.frames,
                requiresLaTeX: task.requiresLaTeX, error: task.error, waitingFor: waiting,
                animations: task.work.animations, estimatedSeconds: task.work.estimatedSeconds, note: task.work.note)
            scene.sounds = task.work.sounds
            scene.expectedFrames = task.work.expectedFrames
            if video.state == .done, task.result?.still != nil {
                let path = ProgressivePublisher.stillPath(task.scene)
                scene.still = configuration.objectOutputs?.publicURL(videoID: video.id, path: path) ?? "/v1/videos/\(video.id)/\(path)"
            }
            return scene
        }
        let plan = zip(ordered, statuses).first { $0.0.work.kind == .plan }?.1
        let scenes = zip(ordered, statuses).filter { $0.0.work.kind == .render }.map(\.1)
        var outputs: VideoOutputs?
        // A script of stills only makes pictures and no movie, as Manim does.
        let checkOnly = video.options.validateOnly == true
        let movie = !checkOnly && ((video.state == .done && (video.frames ?? 0) > 0) || playableSeconds[video.id] != nil)
        if let objects = configuration.objectOutputs, movie {
            // Playable while rendering: the master playlist exists from the first published task.
            outputs = VideoOutputs(
                master: objects.publicURL(videoID: video.id, path: "master.m3u8") ?? "/v1/videos/\(video.id)/master.m3u8",
                mp4: objects.publicURL(videoID: video.id, path: "video.mp4") ?? "/v1/videos/\(video.id)/video.mp4",
                masterPath: objects.outputKey(videoID: video.id, path: "master.m3u8"),
                mp4Path: objects.outputKey(videoID: video.id, path: "video.mp4"))
        } else if movie {
            let folder = configuration.publishedDirectory.appendingPathComponent(video.id)
            outputs = VideoOutputs(
                master: "/v1/videos/\(video.id)/master.m3u8", mp4: "/v1/videos/\(video.id)/video.mp4",
                masterPath: folder.appendingPathComponent("master.m3u8").path,
                mp4Path: folder.appendingPathComponent("video.mp4").path)
        }
        var status = VideoStatus(
            id: video.id, state: video.state, scriptName: video.scriptName, quality: video.settings.quality,
            seed: video.settings.seed, renditions: video.encoding.renditions.map(\.name),
            createdAt: video.createdAt, updatedAt: video.updatedAt, error: video.error,
            priority: video.options.priority, submitter: video.options.submitter, plan: plan, scenes: scenes,
            frames: video.frames, seconds: video.seconds, outputs: outputs)
        status.teamID = video.teamID
        status.playableSeconds = checkOnly ? nil : video.state == .done ? video.seconds : playableSeconds[video.id]
        status.validateOnly = checkOnly ? true : nil
        return status
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
