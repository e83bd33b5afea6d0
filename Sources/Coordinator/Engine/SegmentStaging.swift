import FarmProtocol
import Foundation
import Packaging

/// Where segment chunks land while an attempt runs, and how an accepted
/// attempt's files become the task's output.
///
/// Writes happen on one serial queue in arrival order, so verifying a result
/// (queued behind its chunks) sees every chunk the agent sent before it.
/// An attempt's files live in their own folder and become visible to
/// packaging only by one atomic rename when the attempt is accepted.
final class SegmentStaging: Sendable {
    private let root: URL
    private let queue = DispatchQueue(label: "farm.segment-staging")
    /// Bytes one attempt may stage; an agent that sends more fails the attempt.
    let attemptQuota: Int
    /// Bytes staged per attempt folder; touched only on `queue`.
    nonisolated(unsafe) private var stagedBytes: [URL: Int] = [:]

    init(root: URL, attemptQuota: Int = 8 << 30) {
        self.root = root
        self.attemptQuota = attemptQuota
    }

    /// The folder of one attempt's files.
    func attemptFolder(videoID: String, ref: AttemptRef) -> URL {
        root.appendingPathComponent(videoID).appendingPathComponent(ref.taskID)
            .appendingPathComponent("attempt-\(ref.attempt)")
    }

    /// The folder of a task's accepted output.
    func acceptedFolder(videoID: String, taskID: String) -> URL {
        root.appendingPathComponent(videoID).appendingPathComponent(taskID).appendingPathComponent("accepted")
    }

    static func fileName(_ file: SegmentID) -> String {
        OutputPlacement.fileName(file)
    }

    /// Queues a chunk for writing. A chunk whose checksum does not match is
    /// recorded as corruption and makes the attempt's verification fail.
    func write(_ chunk: SegmentChunk, bytes: Data, videoID: String) {
        let folder = attemptFolder(videoID: videoID, ref: chunk.ref)
        queue.async { [self] in
            let marker = folder.appendingPathComponent("CORRUPT")
            let staged = stagedBytes[folder, default: 0] + bytes.count  // each chunk is bounded by the wire limits
            stagedBytes[folder] = staged
            guard staged <= attemptQuota else {
                guard staged - bytes.count <= attemptQuota else { return }  // marked once
                try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(
                    atPath: marker.path, contents: Data("the attempt's uploads (over \(attemptQuota >> 20) MiB)".utf8))
                return
            }
            guard Checksum.crc32(bytes) == chunk.crc32, chunk.fits(bytes.count) else {
                try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                _ = FileManager.default.createFile(atPath: marker.path, contents: Data("\(chunk.file)".utf8))
                return
            }
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try OutputFiles.write(bytes, to: folder.appendingPathComponent(Self.fileName(chunk.file)), at: chunk.offset)
            } catch {
                _ = FileManager.default.createFile(atPath: marker.path, contents: Data("\(error)".utf8))
            }
        }
    }

    /// Checks that every file `result` names arrived whole and holds what the
    /// result says: the init segment's SPS gives the announced codecs, size and
    /// timescale of the rung of `expectedHeights`, and every media segment's
    /// samples add up to its announced frames. `nil` when all of that holds,
    /// else why not. Runs after every chunk queued before it.
    /// Media segments in `inStore` were uploaded to the object store by the agent
    /// and are checked there instead (`ObjectOutputs.verify`).
    func verify(_ result: TaskResult, videoID: String, expectedHeights: [Int], inStore: Set<String> = []) async -> String? {
        let folder = attemptFolder(videoID: videoID, ref: result.ref)
        do {
            return try await offloaded(on: queue) { () -> String? in
            self.stagedBytes[folder] = nil
            if let corrupt = try? String(contentsOf: folder.appendingPathComponent("CORRUPT"), encoding: .utf8) {
                return "a chunk of \(corrupt) failed its checksum, could not be written or exceeded the quota"
            }
            guard result.frames == 0 || result.renditions.map(\.height) == expectedHeights else {
                return "the result's renditions \(result.renditions.map(\.height)) are not the ladder \(expectedHeights)"
            }
            for (index, rendition) in result.renditions.enumerated() {
                var files = [(SegmentID(rendition: index, segment: nil), rendition.initSize, rendition.initCRC32, 0)]
                files += rendition.segments.map { (SegmentID(rendition: index, segment: $0.index), $0.size, $0.crc32, $0.frames) }
                for (file, size, crc, frames) in files where !inStore.contains(Self.fileName(file)) {
                    let name = Self.fileName(file)
                    guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)) else { return "missing \(name)" }
                    guard data.count == size, Checksum.crc32(data) == crc else {
                        return "\(name) is \(data.count) bytes with a different checksum than announced"
                    }
                    do {
                        if file.segment == nil {
                            let header = try SegmentInspector.initSegment(data)
                            guard header.codecs == rendition.codecs, header.width == rendition.width,
                                  header.height == rendition.height, header.timescale == result.timescale else {
                                return "\(name) declares \(header.codecs) \(header.width)x\(header.height) at timescale "
                                    + "\(header.timescale), the result \(rendition.codecs) \(rendition.width)x\(rendition.height) "
                                    + "at \(result.timescale)"
                            }
                        } else {
                            let samples = try SegmentInspector.sampleCount(ofFragment: data)
                            guard samples == frames else { return "\(name) holds \(samples) frames, announced \(frames)" }
                        }
                    } catch {
                        return "\(name): \(error)"
                    }
                }
            }
            return nil
            }
        } catch {
            return "verification failed: \(error)"
        }
    }

    /// Writes a whole file of an attempt (an init segment fetched back from the
    /// object store), in order with its chunks.
    func store(_ data: Data, videoID: String, ref: AttemptRef, name: String) async throws {
        let folder = attemptFolder(videoID: videoID, ref: ref)
        try await offloaded(on: queue) {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try OutputFiles.write(data, to: folder.appendingPathComponent(name))
        }
    }

    /// Reads a file of a task's accepted output.
    func acceptedFile(videoID: String, taskID: String, name: String) async throws -> Data {
        let url = acceptedFolder(videoID: videoID, taskID: taskID).appendingPathComponent(name)
        return try await offloaded(on: queue) { try Data(contentsOf: url) }
    }

    /// Makes an attempt's files the task's output, atomically.
    func accept(videoID: String, ref: AttemptRef) async throws {
        let from = attemptFolder(videoID: videoID, ref: ref)
        let to = acceptedFolder(videoID: videoID, taskID: ref.taskID)
        try await offloaded(on: queue) {
            let fileManager = FileManager.default
            if fileManager.fileExists(atPath: to.path) { try fileManager.removeItem(at: to) }
            if !fileManager.fileExists(atPath: from.path) {
                // A scene with no frames sends no files.
                try fileManager.createDirectory(at: from, withIntermediateDirectories: true)
            }
            try fileManager.moveItem(at: from, to: to)
        }
    }

    /// Makes the files in `folder` (a cached render) the task's output, by hard
    /// links where the file system allows, else by copies.
    func adopt(_ folder: URL, videoID: String, taskID: String) async throws {
        let to = acceptedFolder(videoID: videoID, taskID: taskID)
        try await offloaded(on: queue) {
            try Self.link(contentsOf: folder, into: to)
        }
    }

    /// Keeps a copy of the task's accepted output in `folder` (which must not
    /// exist yet; an existing one is left as it is).
    func preserve(videoID: String, taskID: String, into folder: URL) async throws {
        let from = acceptedFolder(videoID: videoID, taskID: taskID)
        try await offloaded(on: queue) {
            guard !FileManager.default.fileExists(atPath: folder.path) else { return }
            let partial = folder.deletingLastPathComponent().appendingPathComponent(".\(folder.lastPathComponent)-\(UUID().uuidString)")
            try Self.link(contentsOf: from, into: partial)
            do {
                try FileManager.default.moveItem(at: partial, to: folder)
            } catch {
                try? FileManager.default.removeItem(at: partial)
                if !FileManager.default.fileExists(atPath: folder.path) { throw error }
            }
        }
    }

    private static func link(contentsOf source: URL, into target: URL) throws {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: target.path) { try fileManager.removeItem(at: target) }
        try fileManager.createDirectory(at: target, withIntermediateDirectories: true)
        for name in try fileManager.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(name), to = target.appendingPathComponent(name)
            if (try? fileManager.linkItem(at: from, to: to)) == nil {
                try fileManager.copyItem(at: from, to: to)
            }
        }
    }

    /// Deletes a refused or abandoned attempt's files.
    func discard(videoID: String, ref: AttemptRef) {
        let folder = attemptFolder(videoID: videoID, ref: ref)
        queue.async { [self] in
            stagedBytes[folder] = nil
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// Deletes everything staged for a video.
    func discardVideo(_ videoID: String) {
        let folder = root.appendingPathComponent(videoID)
        queue.async { [self] in
            stagedBytes = stagedBytes.filter { !$0.key.path.hasPrefix(folder.path + "/") }
            try? FileManager.default.removeItem(at: folder)
        }
    }
}
