@testable import Agent
@_spi(Benchmark) import Coordinator
import FarmModel
import FarmProtocol
import Foundation
import Synchronization
import Media
import ObjectStorage
import Packaging
import Testing

/// The publisher alone against moto's S3: segments whose place on the timeline was not known at dispatch
/// are moved by the coordinator, and `video.mp4` grows as an upload in parts while tasks are accepted.
@Suite(.serialized) struct ProgressivePublisherTests {
    @Test func unplacedSegmentsAreMovedAndTheMP4IsUploadedInPartsAsTasksArrive() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-publisher")
        let client = moto.client(partSize: 5 << 20)
        // Noise encodes large: each task's one rendition is a few MiB, so the MP4 takes several parts.
        let width = 320, height = 180, fps = 15
        var files: [EncodedFile] = []
        let encoder = try SceneEncoder(.init(sourceWidth: width, sourceHeight: height, frameRate: fps, renditions: [(180, 18)],
                                             keyframeSeconds: 2, segmentSeconds: 6, preset: "ultrafast")) { files.append($0) }
        var generator = SystemRandomNumberGenerator()
        var pixels = [UInt8](repeating: 0, count: width * height * 4)
        for _ in 0..<90 {
            for index in pixels.indices { pixels[index] = UInt8.random(in: 0...255, using: &generator) }
            try pixels.withUnsafeBytes { try encoder.encode(rgba: $0.baseAddress!, stride: width * 4, repeatCount: 1) }
        }
        let summary = try encoder.finish()[0]
        let initSegment = try #require(files.first { $0.segment == nil }).data
        let fragment = try #require(files.first { $0.segment == 0 }).data
        #expect(fragment.count > 1 << 20)

        let tasks = 6, segmentsPerTask = 2
        let ladder = [Rendition(height: 180, crf: 18)]
        let video = VideoRecord(id: "vpublisher0001", state: .rendering, scriptName: "s.py", script: "", settings: RenderSettings(quality: .low),
                                encoding: EncodingPlan(renditions: ladder), idempotencyKey: nil, createdAt: Date())
        var records: [TaskRecord] = []
        for task in 0..<tasks {
            var record = TaskRecord(id: "\(video.id)-\(task)", videoID: video.id, ordinal: task, scene: "S", requiresLaTeX: false, createdAt: Date())
            record.attempt = 1
            for segment in [nil] + (0..<segmentsPerTask).map(Optional.some) {
                let name = OutputPlacement.fileName(SegmentID(rendition: 0, segment: segment))
                // Every fragment starts at 0: rendered before its place was known.
                try await client.put(segment == nil ? initSegment : fragment, key: "staging/\(video.id)/\(record.id)/a1/\(name)",
                                     contentType: "video/mp4")
            }
            let rendition = RenditionOutput(width: summary.width, height: summary.height, codecs: summary.codecs, initSize: initSegment.count,
                                            initCRC32: Checksum.crc32(initSegment),
                                            segments: (0..<segmentsPerTask).map { SegmentInfo(index: $0, frames: 90, size: fragment.count, crc32: 0) })
            record.result = TaskResult(ref: AttemptRef(taskID: record.id, attempt: 1), frames: 90 * segmentsPerTask, sourceWidth: width,
                                       sourceHeight: height, frameRate: fps, timescale: 90_000, renditions: [rendition], renderSeconds: 1)
            record.state = .done
            records.append(record)
        }
        let publisher = ProgressivePublisher(objects: ObjectOutputConfiguration(client: client, prefix: "published/"))
        // Parts are built by the agent's joiner through presigned URLs, as a farm's agents do; every third one fails
        // (as an agent that is gone would), and the publisher builds that one itself.
        let asked = JoinLog()
        await publisher.setJoiner { videoID, pieces, key, uploadID, number in
            guard asked.note(number, pieces.reduce(0) { $0 + $1.size }) % 3 != 0 else { return nil }
            var sources: [JoinSource] = []
            for piece in pieces {
                sources.append(JoinSource(url: (try? await client.presignedGet(key: piece.key, expires: 300))?.absoluteString ?? "", size: piece.size))
            }
            guard let target = try? await client.presignedUploadPart(key: key, uploadID: uploadID, number: number, expires: 300) else { return nil }
            let request = JoinPart(id: "join-\(number)", videoID: videoID, sources: sources, target: target.absoluteString)
            let answer = await withCheckedContinuation { continuation in
                Thread { continuation.resume(returning: PartJoinJob.run(request)) }.start()
            }
            guard answer.error == nil, let stored = try? await client.storedPart(number, key: key, uploadID: uploadID),
                  stored.size == request.size, stored.etag == answer.md5 else { return nil }
            return stored.etag
        }
        // Tasks are accepted out of order: only the contiguous prefix is published.
        var snapshot = records
        for index in snapshot.indices where index != 0 { snapshot[index].state = .running }
        snapshot[2].state = .done
        let early = snapshot
        try await publisher.advance(video.id) { (video, early) }
        let firstPlaylist = String(decoding: try await client.get("published/\(video.id)/180p/index.m3u8"), as: UTF8.self)
        #expect(firstPlaylist.components(separatedBy: ".m4s").count - 1 == segmentsPerTask, "task 2 waits for task 1")
        #expect(!firstPlaylist.contains("#EXT-X-ENDLIST"))
        let all = records
        try await publisher.advance(video.id) { (video, all) }
        #expect(try await client.head("published/\(video.id)/video.mp4") == nil, "the MP4 appears only when complete")
        var assembling = video
        assembling.state = .assembling
        let published = try await publisher.finish(assembling, records)
        #expect(published.frames == tasks * segmentsPerTask * 90)
        #expect(await publisher.replacedBytes == tasks * segmentsPerTask * fragment.count, "every segment was moved on the timeline")
        // Parts of whole objects, each at least the part size but the last; two of three built by the joiner.
        let parts = asked.parts
        #expect(parts.count >= 3 && parts.dropLast().allSatisfy { $0 >= client.partSize }, "\(parts)")
        #expect(parts.reduce(0, +) == initSegment.count + tasks * segmentsPerTask * fragment.count)
        #expect(await publisher.joinedParts == parts.count - parts.count / 3)
        let builtHere: [Int] = parts.enumerated().filter { ($0.offset + 1) % 3 == 0 }.map(\.element)
        let readBack = await publisher.mp4Bytes
        #expect(readBack == builtHere.reduce(0, +), "only the parts the joiner did not build were read back")

        let mp4 = try #require(try await client.head("published/\(video.id)/video.mp4"))
        #expect(mp4.size == initSegment.count + tasks * segmentsPerTask * fragment.count)
        #expect(mp4.etag.hasSuffix("-\(parts.count)"), "uploaded in parts: \(mp4.etag)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-publisher-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("video.mp4")
        try await client.get("published/\(video.id)/video.mp4").write(to: file)
        let times = try FFprobe.frameTimes(file.path)
        #expect(times.count == published.frames)
        #expect(times.enumerated().allSatisfy { abs($1 - Double($0) / 15) < 0.0001 }, "one continuous timeline")
        let playlist = String(decoding: try await client.get("published/\(video.id)/180p/index.m3u8"), as: UTF8.self)
        #expect(playlist.hasPrefix(firstPlaylist), "the playlist only grew at its end")
        #expect(playlist.hasSuffix("#EXT-X-ENDLIST\n"))
    }
}

/// The parts a publisher asked its joiner for: their sizes, by part number.
final class JoinLog: Sendable {
    private let sizes = Mutex<[Int: Int]>([:])

    /// Notes part `number`'s size; returns `number`.
    func note(_ number: Int, _ size: Int) -> Int {
        sizes.withLock { $0[number] = size }
        return number
    }

    var parts: [Int] { sizes.withLock { table in table.keys.sorted().map { table[$0]! } } }
}
