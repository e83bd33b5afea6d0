import FarmModel
import FarmProtocol
import Foundation
import ObjectStorage

/// The object-store side of an attempt: signing its uploads, checking what the
/// agent says it stored, and making sure every accepted file is in the store.
extension FarmEngine {
    /// Where an attempt's fragments go on the video's timeline and, with an object
    /// store, the URLs to put them at: one per file the plan expects (an init
    /// segment and the media segments of each rung, with one spare); a longer
    /// render than planned sends the rest as chunks. In the data folder every
    /// file comes as chunks, already in its place.
    func outputPlacement(for assign: Assign) async -> OutputPlacement? {
        guard assign.taskKind == .render, let task = core.tasks[assign.ref.taskID], let video = core.videos[assign.videoID] else {
            return nil
        }
        let renders = (core.taskIDsByVideo[video.id] ?? []).compactMap { core.tasks[$0] }
            .filter { $0.work.kind == .render && $0.ordinal < task.ordinal }
        var firstFrame: Int? = 0
        for earlier in renders {
            guard let frames = earlier.result?.frames ?? earlier.work.expectedFrames, let sum = firstFrame else { firstFrame = nil; break }
            let (total, overflow) = sum.addingReportingOverflow(frames)
            firstFrame = overflow ? nil : total
        }
        guard let objects = configuration.objectOutputs, let s3 = objects.s3 else {
            return OutputPlacement(firstFrame: firstFrame, uploads: [:])
        }
        let framesPerSegment = max(video.settings.quality.frameRate * max(video.encoding.segmentSeconds, 1), 1)
        // Unplanned (not split): URLs for 48 s per rung; a longer scene sends the rest as chunks.
        let segments = task.work.expectedFrames.map { min(($0 + framesPerSegment - 1) / framesPerSegment + 1, 10_000) } ?? 8
        var uploads: [String: String] = [:]
        do {
            for rendition in video.encoding.renditions.indices {
                for segment in [nil] + (0..<segments).map(Optional.some) {
                    let name = OutputPlacement.fileName(SegmentID(rendition: rendition, segment: segment))
                    let key = objects.attemptKey(videoID: video.id, ref: assign.ref, file: name)
                    uploads[name] = try await s3.presignedPut(key: key, expires: objects.uploadURLSeconds).absoluteString
                }
            }
        } catch {
            logger.error("could not sign upload URLs; the attempt sends its files as chunks", metadata: ["error": "\(error)"])
            uploads = [:]
        }
        return OutputPlacement(firstFrame: firstFrame, uploads: uploads)
    }

    /// Checks the files the agent put in the store: each one is there, as large as
    /// announced and, where the store's ETag is the MD5, with the announced MD5.
    /// Init segments are fetched (a few hundred bytes each) into the attempt's
    /// staging folder, so the usual checks read their SPS. Returns the media
    /// segments checked here, or why the result is refused.
    func verifyStored(_ result: TaskResult, videoID: String) async -> Result<Set<String>, StoredProblem> {
        guard let objects = configuration.objectOutputs, let stored = result.stored, !stored.isEmpty else { return .success([]) }
        var sizes: [String: Int] = [:]
        for (index, rendition) in result.renditions.enumerated() {
            sizes[OutputPlacement.fileName(SegmentID(rendition: index, segment: nil))] = rendition.initSize
            for segment in rendition.segments {
                sizes[OutputPlacement.fileName(SegmentID(rendition: index, segment: segment.index))] = segment.size
            }
        }
        var media: Set<String> = []
        for file in stored {
            guard let size = sizes[file.name] else { return .failure(StoredProblem("stored \(file.name), which the result does not announce")) }
            let key = objects.attemptKey(videoID: videoID, ref: result.ref, file: file.name)
            do {
                guard let info = try await objects.store.head(key) else {
                    return .failure(StoredProblem("\(file.name) is not in the object store"))
                }
                guard info.size == size else {
                    return .failure(StoredProblem("\(file.name) is \(info.size) bytes in the object store, announced \(size)"))
                }
                guard !info.etagIsMD5 || info.etag == file.md5 else {
                    return .failure(StoredProblem("\(file.name) in the object store has another checksum than announced"))
                }
                if OutputPlacement.file(named: file.name)?.segment == nil {
                    try await staging.store(try await objects.store.get(key), videoID: videoID, ref: result.ref, name: file.name)
                } else {
                    storeETagsAreMD5 = info.etagIsMD5
                    media.insert(file.name)
                    traffic.agentBytes += size
                }
            } catch {
                // The store failing is not the agent's fault: the task goes back without spending a retry.
                return .failure(StoredProblem("the object store could not be read: \(error)", storeFault: true))
            }
        }
        return .success(media)
    }

    /// Uploads an accepted attempt's files that came as chunks (the agent's upload
    /// failed, or it had no URL for them) to the attempt's prefix, so every
    /// accepted file is in the store before the result is acknowledged: a standby
    /// on another host finds them there.
    func relayChunked(_ result: TaskResult, videoID: String) async throws {
        guard let objects = configuration.objectOutputs else { return }
        let stored = Set((result.stored ?? []).map(\.name))
        for (index, rendition) in result.renditions.enumerated() where result.frames > 0 {
            let names = [OutputPlacement.fileName(SegmentID(rendition: index, segment: nil))]
                + rendition.segments.map { OutputPlacement.fileName(SegmentID(rendition: index, segment: $0.index)) }
            for name in names where !stored.contains(name) {
                let data = try await staging.acceptedFile(videoID: videoID, taskID: result.ref.taskID, name: name)
                try await objects.store.put(data, key: objects.attemptKey(videoID: videoID, ref: result.ref, file: name),
                                            contentType: "application/octet-stream", cacheControl: nil)
                if name.hasSuffix(".m4s") { traffic.relayedBytes += data.count }
            }
        }
    }
}

/// Why the stored files of a result were not accepted.
struct StoredProblem: Error {
    var message: String
    /// The store failed, not the agent.
    var storeFault = false

    init(_ message: String, storeFault: Bool = false) {
        self.message = message
        self.storeFault = storeFault
    }
}
