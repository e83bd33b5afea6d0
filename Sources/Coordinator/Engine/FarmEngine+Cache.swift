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
            if configuration.objectOutputs != nil {
                guard let attempt = core.tasks[taskID]?.attempt, await adoptStored(cached, videoID: videoID, ref: AttemptRef(taskID: taskID, attempt: attempt)) else {
                    logger.warning("a cached render's objects are gone; rendering again", metadata: ["task": "\(taskID)", "key": "\(key)"])
                    continue
                }
                hits[taskID] = cached.result
                continue
            }
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
        var artifactPath = target.path
        do {
            if let objects = configuration.objectOutputs {
                // Kept in the store, where every coordinator sharing it finds them.
                artifactPath = try await keepStored(result, videoID: task.videoID, key: key, objects)
            } else {
                try await staging.preserve(videoID: task.videoID, taskID: task.id, into: target)
            }
        } catch {
            logger.warning("could not keep a render in the cache", metadata: ["task": "\(task.id)", "error": "\(error)"])
            return
        }
        let render = CachedRender(contentHash: key, result: result, artifactPath: artifactPath, createdAt: Date())
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
                if let prefix = ObjectOutputConfiguration.storedCachePrefix(render.artifactPath) {
                    _ = try? await configuration.objectOutputs?.store.deletePrefix(prefix)
                } else {
                    // Hard links: published videos that share these files keep theirs.
                    try? await offloaded { try FileManager.default.removeItem(atPath: render.artifactPath) }
                }
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

    /// The files of a render, by name, as its result describes them.
    static func fileNames(_ result: TaskResult) -> [String] {
        guard result.frames > 0 else { return [] }
        return result.renditions.enumerated().flatMap { index, rendition in
            [OutputPlacement.fileName(SegmentID(rendition: index, segment: nil))]
                + rendition.segments.map { OutputPlacement.fileName(SegmentID(rendition: index, segment: $0.index)) }
        }
    }

    /// Copies an accepted attempt's objects into the cache's prefix, inside the store; returns the cache entry's path.
    func keepStored(_ result: TaskResult, videoID: String, key: String, _ objects: ObjectOutputConfiguration) async throws -> String {
        let prefix = objects.cachePrefix + key + "/"
        for name in Self.fileNames(result) {
            try await objects.store.copy(from: objects.attemptKey(videoID: videoID, ref: result.ref, file: name), to: prefix + name,
                                         contentType: "application/octet-stream", cacheControl: nil)
        }
        return ObjectOutputConfiguration.storedCacheMarker + prefix
    }

    /// Copies a cached render's objects to where the publisher reads `ref`'s files, inside the store.
    func adoptStored(_ cached: CachedRender, videoID: String, ref: AttemptRef) async -> Bool {
        guard let objects = configuration.objectOutputs, let prefix = ObjectOutputConfiguration.storedCachePrefix(cached.artifactPath) else {
            return false
        }
        do {
            for name in Self.fileNames(cached.result) {
                try await objects.store.copy(from: prefix + name, to: objects.attemptKey(videoID: videoID, ref: ref, file: name),
                                             contentType: "application/octet-stream", cacheControl: nil)
            }
            return true
        } catch {
            return false
        }
    }
}
