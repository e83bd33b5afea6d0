import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// Requests from the HTTP API: submissions (validated, parsed and durable before
/// the core hears of them) and cancellations.
extension FarmEngine {
    /// Validates, stores and queues a video. Returns only once it is durable. With `validateOnly`, the video is a
    /// check of a generated script: its planning pass runs, nothing renders (`VideoOptions.validateOnly`).
    /// - Throws: `SubmissionError`.
    public func submit(_ request: SubmitRequest, owner: VideoOwner = .unowned, traceParent: String? = nil,
                       validateOnly: Bool = false) async throws(SubmissionError) -> VideoStatus {
        var request = request
        let size = request.script.utf8.count
        guard size <= configuration.maxScriptBytes else {
            throw .scriptTooLarge(bytes: size, limit: configuration.maxScriptBytes)
        }
        guard !request.script.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .emptyScript }
        // Idempotency keys are the team's own: another team's key never finds this team's video.
        request.idempotencyKey = request.idempotencyKey.map { key in (owner.teamID.map { "\($0)/" } ?? "") + key }
        if let key = request.idempotencyKey, let existing = await existingVideo(idempotencyKey: key) {
            return existing
        }
        // Counted before the first suspension, so concurrent submissions cannot all slip under the quota.
        if let team = owner.teamID, let limit = owner.concurrentVideos {
            let active = core.videos.values.count { $0.teamID == team } + submissionsInFlight[team, default: 0]
            guard active < limit else { throw .tooManyActiveVideos(limit: limit) }
            submissionsInFlight[team, default: 0] += 1
        }
        defer { if let team = owner.teamID, owner.concurrentVideos != nil { submissionsInFlight[team, default: 1] -= 1 } }
        let selected: [DiscoveredScene]
        do {
            selected = try SceneDiscovery.select(request.scenes, from: try await discovery.scenes(in: request.script))
        } catch let error as ScriptError {
            throw .invalidScript(error)
        } catch {
            throw .invalidScript(.parserFailed("\(error)"))
        }
        let stillSeconds = request.stillSeconds ?? RenderSettings.defaultStillSeconds
        guard stillSeconds.isFinite, (0...RenderSettings.maxStillSeconds).contains(stillSeconds) else {
            throw .invalidSetting("stillSeconds must be between 0 and \(Int(RenderSettings.maxStillSeconds)) (0: a still is only its picture)")
        }
        // Always written down, so that a render cached before stills were in the video is not taken for one that is.
        let settings = RenderSettings(quality: request.quality ?? .high, seed: request.seed ?? 0, stillSeconds: stillSeconds)
        let renditions = try Self.ladder(request.ladder, renderHeight: settings.quality.height)

        let videoID = "v" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        var video = VideoRecord(
            id: videoID, state: .queued, scriptName: ScriptName.safe(request.scriptName ?? ScriptName.fallback), script: request.script,
            settings: settings, encoding: EncodingPlan(renditions: renditions),
            idempotencyKey: request.idempotencyKey, createdAt: Date())
        video.teamID = owner.teamID
        video.userID = owner.userID
        video.options = VideoOptions(
            priority: request.priority ?? 0, submitter: owner.name ?? request.submitter ?? "anonymous",
            scenes: selected.map { SceneSpec(name: $0.name, requiresLaTeX: $0.requiresLaTeX, fingerprint: $0.fingerprint) },
            split: request.split ?? true, useCache: request.cache ?? true)
        video.options.traceParent = traceParent
        video.options.validateOnly = validateOnly ? true : nil
        if let assets = request.assets, !assets.isEmpty {
            // In the store before the video is durable: a video never refers to assets that are not there.
            video.options.assets = try await storeAssets(assets, videoID: videoID, scriptName: video.scriptName)
        }
        let videoTasks = core.initialTasks(for: video)
        let newVideo = video
        let stored: VideoRecord
        do {
            stored = try await withDeadline(configuration.submitTimeout) { [store] in
                try await store.insert(newVideo, tasks: videoTasks)
            }
        } catch {
            // The insert may still commit after we gave up on it: adopt the video if it does.
            inBackground { await self.adoptIfStored(videoID) }
            throw .notPersisted("\(error)")
        }
        if stored.id != video.id, let existing = await status(videoID: stored.id) {
            return existing  // a concurrent submit with the same key won
        }
        await apply(.submitted(video, videoTasks))
        if let live = currentStatus(videoID) { return live }
        return await status(videoID: videoID)!  // taken whole from the cache and already published
    }

    /// Loads a video whose submission was refused for a slow store, if the
    /// insert committed after all; waits for the store to answer.
    func adoptIfStored(_ videoID: String) async {
        var delay: Duration = .milliseconds(200)
        while !Task.isCancelled {
            do {
                guard let video = try await store.video(id: videoID), core.videos[videoID] == nil, !video.state.isFinal else { return }
                let videoTasks = try await store.tasks(videoID: videoID)
                logger.notice("adopted a video whose submission was answered with 503 but did commit", metadata: ["video": "\(videoID)"])
                await apply(.submitted(video, videoTasks))
                return
            } catch {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func existingVideo(idempotencyKey key: String) async -> VideoStatus? {
        if let video = core.videos.values.first(where: { $0.idempotencyKey == key }) {
            return currentStatus(video.id)
        }
        guard let recent = try? await store.videos(limit: 1_000),
              let video = recent.first(where: { $0.idempotencyKey == key }) else { return nil }
        return await status(videoID: video.id)
    }

    static func ladder(_ heights: [Int]?, renderHeight: Int) throws(SubmissionError) -> [Rendition] {
        guard let heights else { return Rendition.defaultLadder(forRenderHeight: renderHeight) }
        guard (1...8).contains(heights.count) else { throw .invalidLadder("between 1 and 8 rungs") }
        guard Set(heights).count == heights.count else { throw .invalidLadder("heights repeat") }
        for height in heights where !(144...4320).contains(height) || height % 2 != 0 {
            throw .invalidLadder("\(height) is not an even height between 144 and 4320")
        }
        return heights.sorted(by: >).map { Rendition(height: $0) }
    }

    /// Cancels a video: running attempts are told to stop at once and their
    /// slots freed. Returns `false` if the video is unknown or already final.
    public func cancel(videoID: String) async -> Bool {
        guard core.videos[videoID] != nil else { return false }
        await apply(.cancelRequested(videoID: videoID))
        return true
    }
}
