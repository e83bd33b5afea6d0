import FarmModel
import FarmProtocol
import FarmStorage
import Foundation

/// The render cache's disk and store work, for the core's cache effects.
extension FarmEngine {
    /// Looks up each candidate's content hash and stages the files of every hit as the
    /// task's output; returns the hits' results.
    func stageCachedRenders(videoID: String, _ candidates: [(taskID: String, key: String)]) async -> [String: TaskResult] {
        var hits: [String: TaskResult] = [:]
        for (taskID, key) in candidates {
            guard let cached = try? await store.cachedRender(contentHash: key) else { continue }
            guard (try? await staging.adopt(URL(fileURLWithPath: cached.artifactPath), videoID: videoID, taskID: taskID)) != nil else {
                logger.warning("a cached render's files are gone; rendering again", metadata: ["task": "\(taskID)", "key": "\(key)"])
                continue
            }
            hits[taskID] = cached.result
        }
        return hits
    }

    /// Keeps an accepted render's segments for later videos with the same content hash.
    func rememberInCache(_ task: TaskRecord, result: TaskResult) async {
        guard let key = task.work.cacheKey else { return }
        let target = configuration.cacheDirectory.appendingPathComponent(key)
        do {
            try await staging.preserve(videoID: task.videoID, taskID: task.id, into: target)
        } catch {
            logger.warning("could not keep a render in the cache", metadata: ["task": "\(task.id)", "error": "\(error)"])
            return
        }
        let render = CachedRender(contentHash: key, result: result, artifactPath: target.path, createdAt: Date())
        // Durable before the trim reads the cache's rows, and trimmed before the video is assembled:
        // a cache with no room keeps nothing a later submission could find.
        _ = await writer.waitDurable(writer.enqueue(.cachedRender(render)), timeout: nil)
        cacheBytes = cacheBytes.map { $0 + render.bytes }
        if !trimmingCache, cacheBytes.map({ $0 > configuration.renderCacheLimitBytes }) ?? true {
            trimmingCache = true
            await trimCache()
        }
    }

    /// Evicts the least recently used renders once the cache holds more than
    /// its limit, down to 90 % of it (so that not every new render evicts).
    func trimCache() async {
        defer { trimmingCache = false }
        let limit = configuration.renderCacheLimitBytes
        do {
            let renders = try await store.cachedRendersByLastUse()
            let total = renders.reduce(0) { $0 + $1.bytes }
            cacheBytes = total
            guard total > limit else { return }
            for render in RenderCacheEviction.victims(renders, totalBytes: total, targetBytes: limit / 10 * 9) {
                // Forgotten durably before its files go: the cache never points at missing files.
                _ = await writer.waitDurable(writer.enqueue(.uncachedRender(contentHash: render.contentHash)), timeout: nil)
                // Hard links: published videos that share these files keep theirs.
                try? await offloaded { try FileManager.default.removeItem(atPath: render.artifactPath) }
                cacheBytes = (cacheBytes ?? total) - render.bytes
                metrics.cacheEvictions.increment()
            }
            logger.info("render cache trimmed", metadata: [
                "evictedBytes": "\(total - (cacheBytes ?? total))", "keptBytes": "\(cacheBytes ?? total)", "limitBytes": "\(limit)",
            ])
        } catch {
            logger.warning("could not trim the render cache", metadata: ["error": "\(error)"])
        }
    }
}
