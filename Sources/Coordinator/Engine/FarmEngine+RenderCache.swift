import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

extension FarmEngine {
    /// Completes, from the render cache, every pending task of the video whose
    /// content hash has a cached render; assembles if nothing is left to render.
    func takeFromCache(videoID: String) async {
        guard configuration.renderCache, let video = videos[videoID], video.options.useCache else { return }
        let candidates = (taskIDsByVideo[videoID] ?? []).filter {
            tasks[$0]?.state == .pending && tasks[$0]?.work.kind == .render && tasks[$0]?.work.cacheKey != nil
        }
        // Held back from dispatch until looked up: a cached scene must not also be rendered.
        cacheLookups.formUnion(candidates)
        defer {
            cacheLookups.subtract(candidates)
            scheduleDispatch()
        }
        for id in candidates {
            guard let key = tasks[id]?.work.cacheKey, let cached = try? await store.cachedRender(contentHash: key) else { continue }
            // Re-check after the await: the task may have been assigned meanwhile.
            guard var current = tasks[id], current.state == .pending, videos[videoID] != nil else { continue }
            let folder = URL(fileURLWithPath: cached.artifactPath)
            guard (try? await staging.adopt(folder, videoID: videoID, taskID: id)) != nil, videos[videoID] != nil else {
                logger.warning("a cached render's files are gone; rendering again", metadata: ["task": "\(id)", "key": "\(key)"])
                continue
            }
            var result = cached.result
            result.ref = AttemptRef(taskID: id, attempt: current.attempt)
            current.state = .done
            current.result = result
            current.framesDone = result.frames
            current.work.note = "from the render cache"
            current.updatedAt = Date()
            tasks[id] = current
            await writer.enqueue(.task(current))
            metrics.cacheHits.increment()
            logger.info("taken from the render cache", metadata: ["task": "\(id)", "scene": "\(current.scene)"])
        }
        let renders = renderTasks(of: videoID)
        if !renders.isEmpty, renders.allSatisfy({ $0.state == .done }) {
            await assemble(videoID: videoID)
        }
    }

    /// Keeps an accepted render's segments for later videos with the same content hash.
    func rememberInCache(_ task: TaskRecord, result: TaskResult) async {
        guard configuration.renderCache, videos[task.videoID]?.options.useCache ?? true, let key = task.work.cacheKey else { return }
        let target = configuration.cacheDirectory.appendingPathComponent(key)
        do {
            try await staging.preserve(videoID: task.videoID, taskID: task.id, into: target)
            let render = CachedRender(contentHash: key, result: result, artifactPath: target.path, createdAt: Date())
            await writer.enqueue(.cachedRender(render))
            cacheBytes = cacheBytes.map { $0 + render.bytes }
            await trimCache()
        } catch {
            logger.warning("could not keep a render in the cache", metadata: ["task": "\(task.id)", "error": "\(error)"])
        }
    }

    /// Evicts the least recently used renders once the cache holds more than
    /// its limit, down to 90 % of it (so that not every new render evicts).
    func trimCache() async {
        let limit = configuration.renderCacheLimitBytes
        guard configuration.renderCache, !trimmingCache, cacheBytes.map({ $0 > limit }) ?? true else { return }
        trimmingCache = true
        defer { trimmingCache = false }
        do {
            let renders = try await store.cachedRendersByLastUse()
            let total = renders.reduce(0) { $0 + $1.bytes }
            cacheBytes = total
            guard total > limit else { return }
            for render in RenderCacheEviction.victims(renders, totalBytes: total, targetBytes: limit / 10 * 9) {
                // Forgotten durably before its files go: the cache never points at missing files.
                await writer.persist(.uncachedRender(contentHash: render.contentHash))
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
