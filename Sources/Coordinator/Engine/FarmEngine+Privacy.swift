import FarmModel
import FarmStorage
import Foundation

/// The engine's part in erasing and expiring videos: stopping them, and deleting the
/// files and cache entries that came from their scripts.
extension FarmEngine {
    /// Cancels those of `videoIDs` still live and waits until their last changes are durable and
    /// their packaging (if any) has ended, so that nothing writes a video back after it is erased.
    /// Returns how many were cancelled.
    func settle(_ videoIDs: [String]) async -> Int {
        var cancelled = 0
        for id in videoIDs where core.videos[id] != nil {
            await apply(.cancelRequested(videoID: id))
            cancelled += 1
        }
        _ = await writer.waitForQueued(timeout: .seconds(10))
        // A cancelled video's packaging may still be writing its outputs: let it end before they are deleted.
        let deadline = ContinuousClock.now + .seconds(120)
        while videoIDs.contains(where: packaging.contains) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return cancelled
    }

    /// Deletes a video's published outputs and staged segments; returns whether outputs existed.
    func deleteOutputs(of videoID: String) async -> Bool {
        if configuration.objectOutputs != nil {
            staging.discardVideo(videoID)
            return await deleteStoredOutputs(of: videoID)
        }
        let folder = configuration.publishedDirectory.appendingPathComponent(videoID)
        let existed = FileManager.default.fileExists(atPath: folder.path)
        staging.discardVideo(videoID)
        try? await offloaded { try FileManager.default.removeItem(at: folder) }
        return existed
    }

    /// Bytes of a video's published outputs, in whichever store holds them (an object store's are not
    /// on this disk), listed off the cooperative pool.
    func outputBytes(of videoID: String) async -> Int64 {
        let objects = (try? await outputs.store.list(prefix: outputs.videoPrefix(videoID))) ?? []
        return objects.reduce(Int64(0)) { $0 + Int64($1.size) }
    }

    /// Forgets the render-cache entries of `tasks` (rows first, durably, then files) and the plan
    /// cache's plans of `video` for every Manim version; returns how many entries went.
    func forgetCachedWork(of video: VideoRecord, tasks: [TaskRecord], plans store: any PrivacyStore) async throws -> Int {
        var removed = 0
        for key in Set(tasks.compactMap(\.work.cacheKey)) {
            _ = await writer.waitDurable(writer.enqueue(.uncachedRender(contentHash: key)), timeout: nil)
            if let objects = configuration.objectOutputs {
                if let count = try? await objects.store.deletePrefix(objects.cachePrefix + key + "/"), count > 0 { removed += 1 }
                continue
            }
            let folder = configuration.cacheDirectory.appendingPathComponent(key)
            if FileManager.default.fileExists(atPath: folder.path) {
                try? await offloaded { try FileManager.default.removeItem(at: folder) }
                removed += 1
            }
        }
        cacheBytes = nil  // counted again at the next trim
        let scenes = video.options.scenes.map(\.name)
        guard !video.script.isEmpty, !scenes.isEmpty else { return removed }
        let keys = try await store.cachedPlanManimVersions().map {
            PlanCacheKey.make(script: video.script, scenes: scenes, settings: video.settings, manimVersion: $0)
        }
        return removed + (try await store.removeCachedPlans(keys: keys))
    }
}
