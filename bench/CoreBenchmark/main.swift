// The coordinator's core, measured without Manim or sockets (`make bench-core`).
//
// 1. The state machine alone: events per second on one core, for a fleet's mix of events
//    (dispatch rounds, progress, results, heartbeats), against the cost of decoding the same
//    messages from the wire (what the gateway already pays per message) in the same run.
// 2. The engine with a store (SQLite, and PostgreSQL when a URL is given): assignments per
//    second, persisted before they are sent, sustained over rounds of hand-backs and
//    re-assignments, against the store's own rate for the same changes in batches.
//
// Usage: CoreBenchmark [postgres://…] [agents]
@_spi(Benchmark) import Coordinator
import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Logging
import PostgresNIO
import Synchronization

let arguments = CommandLine.arguments.dropFirst()
let postgresURL = arguments.first { $0.hasPrefix("postgres") }
let agentCount = arguments.compactMap { Int($0) }.first ?? 500
let slotsPerAgent = 2
let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func video(_ index: Int, scenes: Int) -> VideoRecord {
    var video = VideoRecord(id: "bench\(index)-\(UUID().uuidString.prefix(6))", state: .queued, scriptName: "bench.py",
                            script: "from manim import *", settings: RenderSettings(quality: .low, seed: 0),
                            encoding: EncodingPlan(renditions: Rendition.defaultLadder(forRenderHeight: 480)),
                            idempotencyKey: nil, createdAt: Date())
    video.options = VideoOptions(priority: 0, submitter: "s\(index % 4)",
                                 scenes: (0..<scenes).map { SceneSpec(name: "S\($0)", requiresLaTeX: false) },
                                 split: false, useCache: false)
    return video
}

func register(_ index: Int) -> Register {
    Register(agentID: "agent-\(index)", hostname: "h\(index)", slots: slotsPerAgent, cores: 2, memoryBytes: 1 << 32,
             manimVersion: "0.22.0", hasLaTeX: true)
}

func result(_ ref: AttemptRef) -> TaskResult {
    let renditions = [480, 360, 240].map { height in
        RenditionOutput(width: height * 16 / 9 / 2 * 2, height: height, codecs: "avc1.64001e", initSize: 800, initCRC32: 1,
                         segments: [SegmentInfo(index: 0, frames: 60, size: 40_000, crc32: 2),
                                    SegmentInfo(index: 1, frames: 30, size: 20_000, crc32: 3)])
    }
    return TaskResult(ref: ref, frames: 90, sourceWidth: 854, sourceHeight: 480, frameRate: 15, timescale: 90_000,
                      renditions: renditions, renderSeconds: 3)
}

let configuration: EngineConfiguration = {
    var configuration = EngineConfiguration(
        dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("farm-bench-\(UUID().uuidString.prefix(8))"))
    configuration.renderCache = false
    return configuration
}()

// MARK: 1. The state machine alone

do {
    var core = FarmCore(configuration: configuration, coordinatorID: "bench", logger: quiet)
    let peers = (0..<agentCount).map { Data("agent-\($0)".utf8) }
    for index in 0..<agentCount { _ = core.handle(.registered(register(index), peer: peers[index])) }
    let scenesPerVideo = 200
    let videos = (0..<max(agentCount * slotsPerAgent * 4 / scenesPerVideo, 1)).map { video($0, scenes: scenesPerVideo) }
    for video in videos { _ = core.handle(.submitted(video, core.initialTasks(for: video))) }
    var wire: [[Data]] = []  // the same messages, encoded, for the baseline
    var events = 0
    let started = ContinuousClock.now
    var rounds = 0
    while core.queueDepth > 0 || core.runningCount > 0 {
        rounds += 1
        var assigned: [(AttemptRef, Data)] = []
        for effect in core.handle(.dispatchRound) {
            if case .assign(let assign, let peer) = effect { assigned.append((assign.ref, peer)) }
        }
        events += 1
        for (ref, peer) in assigned {
            for frames in [30, 60, 90] {
                _ = core.handle(.progress(RenderProgress(ref: ref, framesDone: frames), peer: peer))
                if rounds == 1 { wire.append(FarmWire.encode(.progress(RenderProgress(ref: ref, framesDone: frames)))) }
            }
            _ = core.handle(.resultStaged(result(ref), peer: peer))
            if rounds == 1 { wire.append(FarmWire.encode(.result(result(ref)))) }
            events += 4
        }
        for (index, peer) in peers.enumerated() {
            _ = core.handle(.heartbeat(Heartbeat(running: [], freeSlots: slotsPerAgent), peer: peer))
            if rounds == 1 && index < 100 { wire.append(FarmWire.encode(.heartbeat(Heartbeat(freeSlots: slotsPerAgent)))) }
        }
        events += peers.count
        // Assemblies answered at once.
        for id in core.videosAssembling {
            _ = core.handle(.assembled(videoID: id, .published(frames: 1, seconds: 1)))
            events += 1
        }
        if rounds > 1_000 { break }
    }
    let coreSeconds = seconds(ContinuousClock.now - started)
    let coreRate = Double(events) / coreSeconds

    // Baseline: decoding the same kinds of messages from the wire.
    let decodeStarted = ContinuousClock.now
    var decoded = 0
    while decoded < events {
        for frames in wire {
            _ = try FarmWire.decode(frames)
            decoded += 1
            if decoded >= events { break }
        }
    }
    let decodeRate = Double(decoded) / seconds(ContinuousClock.now - decodeStarted)
    print("1. state machine alone: \(agentCount) agents × \(slotsPerAgent) slots, \(videos.count) videos × \(scenesPerVideo) scenes, \(rounds) rounds")
    print(String(format: "   FarmCore:               %9.0f events/s (%d events in %.2f s; %d assignments)", coreRate, events, coreSeconds,
                 core.assignmentsMade))
    print(String(format: "   baseline, wire decode:  %9.0f messages/s", decodeRate))
    print(String(format: "   ratio core/decode: %.2f   target ≥ 50,000 events/s: %@", coreRate / decodeRate,
                 coreRate >= 50_000 ? "met" : "NOT met"))
}

// MARK: 2. The engine with a store: assignments persisted, then sent

/// Counts assignments the engine sends, and remembers whose they are.
final class Outbox: Sendable {
    let sent = Mutex<[(AttemptRef, Data)]>([])
    func take() -> [(AttemptRef, Data)] {
        sent.withLock { sent in
            defer { sent = [] }
            return sent
        }
    }
}

func measureEngine(_ name: String, store: any FarmStore, rounds: Int) async throws {
    try await store.migrate()
    let engine = FarmEngine(configuration: configuration, store: store, logger: quiet)
    let outbox = Outbox()
    await engine.connect { message, peer in
        if case .assign(let assign) = message { outbox.sent.withLock { $0.append((assign.ref, peer)) } }
    }
    let writer = Task { try await engine.storeWriter.run() }
    defer { writer.cancel() }
    try await engine.start()
    let slots = agentCount * slotsPerAgent
    for index in 0..<agentCount { await engine.handle(.register(register(index)), from: Data("agent-\(index)".utf8)) }
    let core = FarmCore(configuration: configuration, logger: quiet)
    for index in 0..<max(slots / 200, 1) {
        let record = video(index, scenes: 200)
        let tasks = core.initialTasks(for: record)
        _ = try await store.insert(record, tasks: tasks)
        await engine.apply(.submitted(record, tasks))
    }
    _ = outbox.take()

    // The first wave: every slot filled in one round.
    var started = ContinuousClock.now
    await engine.dispatch()
    var wave = outbox.take()
    let firstWave = (count: wave.count, seconds: seconds(ContinuousClock.now - started))

    // Sustained: every agent hands its work back (no retry spent) and the next round re-assigns it.
    started = ContinuousClock.now
    var sustained = 0
    for _ in 0..<rounds {
        for (ref, peer) in wave {
            await engine.handle(.failure(TaskFailure(ref: ref, reason: .handedBack, message: "bench", logTail: "")), from: peer)
        }
        await engine.dispatch()
        wave = outbox.take()
        sustained += wave.count
    }
    let sustainedSeconds = seconds(ContinuousClock.now - started)

    // Baseline: the store alone, writing the same number of attempt changes in batches.
    let sample = try await store.unfinished().flatMap(\.1).prefix(slots)
    let changes = Array(sample.map { task -> StoreChange in
        var task = task
        task.attempt += 1_000
        return .attempt(task, AttemptRecord(taskID: task.id, attempt: task.attempt, agentID: "agent-0", startedAt: Date()))
    })
    let baselineStarted = ContinuousClock.now
    var written = 0
    while written < sustained {
        for batch in stride(from: 0, to: changes.count, by: 256) {
            try await store.apply(Array(changes[batch..<min(batch + 256, changes.count)]))
        }
        written += changes.count
    }
    let storeRate = Double(written) / seconds(ContinuousClock.now - baselineStarted)
    let assignRate = Double(sustained) / sustainedSeconds
    print("2. engine + \(name): \(agentCount) agents × \(slotsPerAgent) slots")
    print(String(format: "   first wave:  %5d assignments in %.3f s = %8.0f/s", firstWave.count, firstWave.seconds,
                 Double(firstWave.count) / firstWave.seconds))
    print(String(format: "   sustained:   %5d assignments in %.3f s = %8.0f/s (hand-back, requeue, re-assign; each persisted before it is sent)",
                 sustained, sustainedSeconds, assignRate))
    print(String(format: "   baseline, %@ alone: %8.0f attempt changes/s in batches of 256", name, storeRate))
    print(String(format: "   ratio engine/store: %.2f   target ≥ 5,000 assignments/s: %@", assignRate / storeRate,
                 assignRate >= 5_000 ? "met" : "NOT met"))
}

try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
try await measureEngine("SQLite", store: try SQLiteStore(path: configuration.databasePathForBenchmark), rounds: 5)
if let postgresURL {
    let postgres = try PostgresStore(url: postgresURL, logger: quiet)
    let pool = Task { await postgres.run() }
    try await measureEngine("PostgreSQL", store: postgres, rounds: 5)
    pool.cancel()
}
try? FileManager.default.removeItem(at: configuration.dataDirectory)

extension EngineConfiguration {
    var databasePathForBenchmark: String { dataDirectory.appendingPathComponent("bench.sqlite").path }
}
