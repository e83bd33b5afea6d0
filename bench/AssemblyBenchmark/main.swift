// Assembling an hour of video (`make bench-assembly`): 60 one-minute tasks at 1080p60 with three rungs
// (600 six-second segments per rung), published to an S3-compatible store (moto) by the coordinator's
// `ProgressivePublisher` as each task is accepted, against the data-folder packager (`HLSPackager`) joining
// the same segments once at the end, in the same run.
//
// The segments are one real fragment (320x180, six seconds at 60 fps) repeated: the store's work is per
// object (a copy inside the store per segment, a playlist per rung), so a small body keeps moto's memory in
// check without changing what is measured — except the MP4, which reads the top rung back and grows with it.
//
// Usage: AssemblyBenchmark S3_ENDPOINT
@_spi(Benchmark) import Coordinator
import FarmModel
import FarmProtocol
import Foundation
import Media
import ObjectStorage
import Packaging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

let endpoint = URL(string: CommandLine.arguments.dropFirst().first ?? "http://127.0.0.1:5000")!
let tasks = 60, segmentsPerTask = 10, fps = 60, framesPerSegment = 360
let ladder = Rendition.defaultLadder(forRenderHeight: 1080)

// One real fragment and its init segment.
var files: [EncodedFile] = []
let encoder = try SceneEncoder(.init(sourceWidth: 320, sourceHeight: 180, frameRate: fps, renditions: [(180, 23)],
                                     keyframeSeconds: 2, segmentSeconds: 6, preset: "veryfast")) { files.append($0) }
var pixels = [UInt8](repeating: 0, count: 320 * 180 * 4)
for frame in 0..<framesPerSegment {
    for index in stride(from: 0, to: pixels.count, by: 4) { pixels[index] = UInt8((index / 4 + frame) & 0xFF) }
    try pixels.withUnsafeBytes { try encoder.encode(rgba: $0.baseAddress!, stride: 320 * 4, repeatCount: 1) }
}
let summary = try encoder.finish()[0]
let initSegment = files.first { $0.segment == nil }!.data
let fragment = files.first { $0.segment == 0 }!.data
print("fragment: \(fragment.count) bytes, init \(initSegment.count) bytes; \(tasks) tasks × \(segmentsPerTask) segments × \(ladder.count) rungs")

// The store: a bucket, and every attempt's files where agents would have put them.
var bucketRequest = URLRequest(url: endpoint.appendingPathComponent("bench-assembly"))
bucketRequest.httpMethod = "PUT"
_ = try await URLSession.shared.data(for: bucketRequest)
let client = S3Client(.init(bucket: "bench-assembly", region: "us-east-1", endpoint: endpoint, pathStyle: true),
                      credentials: AWSCredentialsProvider(.fixed(AWSCredentials(accessKeyID: "bench", secretAccessKey: "bench"))))
let objects = ObjectOutputConfiguration(client: client, prefix: "published/")
var video = VideoRecord(id: "vbenchhour0001", state: .rendering, scriptName: "hour.py", script: "", settings: RenderSettings(quality: .high),
                        encoding: EncodingPlan(renditions: ladder), idempotencyKey: nil, createdAt: Date())
var records: [TaskRecord] = []
let uploadStart = ContinuousClock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    var running = 0
    for task in 0..<tasks {
        for rung in ladder.indices {
            for segment in [nil] + (0..<segmentsPerTask).map(Optional.some) {
                let name = OutputPlacement.fileName(SegmentID(rendition: rung, segment: segment))
                let key = "staging/\(video.id)/\(video.id)-\(task)/a1/\(name)"
                if running >= 16 { try await group.next(); running -= 1 }
                group.addTask { try await client.put(segment == nil ? initSegment : fragment, key: key, contentType: "video/mp4") }
                running += 1
            }
        }
    }
    try await group.waitForAll()
}
print("staged \(tasks * ladder.count * (segmentsPerTask + 1)) attempt objects in \(String(format: "%.1f", seconds(ContinuousClock.now - uploadStart))) s")
for task in 0..<tasks {
    var record = TaskRecord(id: "\(video.id)-\(task)", videoID: video.id, ordinal: task, scene: "S\(task)", requiresLaTeX: false, createdAt: Date())
    record.attempt = 1
    let segments = (0..<segmentsPerTask).map { SegmentInfo(index: $0, frames: framesPerSegment, size: fragment.count, crc32: 0) }
    let rendition = RenditionOutput(width: summary.width, height: summary.height, codecs: summary.codecs,
                                    initSize: initSegment.count, initCRC32: Checksum.crc32(initSegment), segments: segments)
    var result = TaskResult(ref: AttemptRef(taskID: record.id, attempt: 1), frames: segmentsPerTask * framesPerSegment,
                            sourceWidth: 1920, sourceHeight: 1080, frameRate: fps, timescale: 90_000,
                            renditions: Array(repeating: rendition, count: ladder.count), renderSeconds: 1)
    result.placedAt = task * segmentsPerTask * framesPerSegment
    record.result = result
    records.append(record)
}

// Object store: each accepted task is published as it arrives; the last one ends the video.
let publisher = ProgressivePublisher(objects: objects)
var perTask: [Double] = []
for accepted in 0..<(tasks - 1) {
    var snapshot = records
    for index in (accepted + 1)..<tasks { snapshot[index].state = .running }
    for index in 0...accepted { snapshot[index].state = .done }
    let frozen = snapshot, current = video
    let started = ContinuousClock.now
    try await publisher.advance(video.id) { (current, frozen) }
    perTask.append(seconds(ContinuousClock.now - started))
}
for index in records.indices { records[index].state = .done }
video.state = .assembling
let finishStarted = ContinuousClock.now
_ = try await publisher.finish(video, records)
let finish = seconds(ContinuousClock.now - finishStarted)
let mp4Read = await publisher.mp4Bytes

// Data folder: the same segments joined once at the end.
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-bench-assembly-\(UUID().uuidString.prefix(8))")
defer { try? FileManager.default.removeItem(at: folder) }
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
let initURL = folder.appendingPathComponent("init.mp4"), fragmentURL = folder.appendingPathComponent("fragment.m4s")
try initSegment.write(to: initURL)
try fragment.write(to: fragmentURL)
let scene = HLSPackager.SceneFiles(initSegment: initURL, segments: Array(repeating: (fragmentURL, framesPerSegment), count: segmentsPerTask))
let inputs = ladder.map { HLSPackager.RenditionInput(name: $0.name, width: summary.width, height: summary.height, codecs: summary.codecs,
                                                     scenes: Array(repeating: scene, count: tasks)) }
let localStarted = ContinuousClock.now
_ = try HLSPackager(frameRate: fps, timescale: 90_000, targetSegmentSeconds: 6).package(inputs, into: folder.appendingPathComponent("out"))
let local = seconds(ContinuousClock.now - localStarted)

let sorted = perTask.sorted()
print(String(format: "object store, per accepted task (30 copies, 10 reads for the MP4, 4 playlists): median %.3f s, max %.3f s", sorted[sorted.count / 2], sorted.last!))
print(String(format: "object store, the end (last task, final playlists, the MP4's last part; %d bytes read back for it during the run): %.2f s", mp4Read, finish))
print(String(format: "data folder, the whole hour joined at the end: %.2f s", local))
print(String(format: "ratio, time from the last task to a finished video: object store / data folder = %.2f", finish / local))
