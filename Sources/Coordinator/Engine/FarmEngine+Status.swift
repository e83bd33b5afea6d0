import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// The status of any video, live or finished; `nil` if unknown.
    public func status(videoID: String) async -> VideoStatus? {
        if let live = currentStatus(videoID) { return live }
        // A video the core just ended may not be written yet: read after the writes, not before.
        _ = await writer.waitForQueued(timeout: .seconds(2))
        if let live = currentStatus(videoID) { return live }
        guard let video = try? await store.video(id: videoID),
              let videoTasks = try? await store.tasks(videoID: videoID) else { return nil }
        return makeStatus(video, videoTasks)
    }

    /// Recent videos, newest first.
    public func recentVideos(limit: Int = 50) async throws -> [VideoStatus] {
        var result: [VideoStatus] = []
        _ = await writer.waitForQueued(timeout: .seconds(2))
        for video in try await store.videos(limit: limit) {
            if let live = currentStatus(video.id) {
                result.append(live)
            } else {
                result.append(makeStatus(video, try await store.tasks(videoID: video.id)))
            }
        }
        return result
    }

    /// Connected agents.
    public func agentStatuses() -> [AgentStatus] {
        let now = ContinuousClock.now
        return core.agents.values.sorted { $0.record.id < $1.record.id }.map { agent in
            AgentStatus(
                id: agent.record.id, hostname: agent.record.hostname, slots: agent.record.slots,
                running: agent.running.count, reportedRunning: agent.reportedRunning, cores: agent.record.cores, manimVersion: agent.record.manimVersion,
                hasLaTeX: agent.record.hasLaTeX, draining: agent.draining || agent.retiring,
                lastSeenSecondsAgo: Self.seconds(now - agent.lastSeen))
        }
    }

    /// Counters for operators.
    public func stats() -> FarmStats {
        FarmStats(malformedMessages: malformedMessages, refusedReports: core.refusedReports, queueDepth: queueDepth,
                  runningTasks: core.tasks.values.filter { $0.state == .running }.count, agents: core.agents.count,
                  activeVideos: core.videos.count, assignments: core.assignmentsMade,
                  dispatchSeconds: Self.seconds(dispatchTime), largestDispatchRound: largestDispatchRound.assignments,
                  largestDispatchRoundSeconds: Self.seconds(largestDispatchRound.time))
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
            return SceneStatus(
                name: task.scene, state: task.state, attempt: task.attempt, retriesSpent: task.failures, agent: task.agentID,
                framesDone: task.result?.frames ?? task.framesDone, frames: task.result?.frames,
                requiresLaTeX: task.requiresLaTeX, error: task.error, waitingFor: waiting,
                animations: task.work.animations, estimatedSeconds: task.work.estimatedSeconds, note: task.work.note)
        }
        let plan = zip(ordered, statuses).first { $0.0.work.kind == .plan }?.1
        let scenes = zip(ordered, statuses).filter { $0.0.work.kind == .render }.map(\.1)
        var outputs: VideoOutputs?
        if video.state == .done {
            let folder = configuration.publishedDirectory.appendingPathComponent(video.id)
            outputs = VideoOutputs(
                master: "/v1/videos/\(video.id)/master.m3u8", mp4: "/v1/videos/\(video.id)/video.mp4",
                masterPath: folder.appendingPathComponent("master.m3u8").path,
                mp4Path: folder.appendingPathComponent("video.mp4").path)
        }
        return VideoStatus(
            id: video.id, state: video.state, scriptName: video.scriptName, quality: video.settings.quality,
            seed: video.settings.seed, renditions: video.encoding.renditions.map(\.name),
            createdAt: video.createdAt, updatedAt: video.updatedAt, error: video.error,
            priority: video.options.priority, submitter: video.options.submitter, plan: plan, scenes: scenes,
            frames: video.frames, seconds: video.seconds, outputs: outputs)
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
