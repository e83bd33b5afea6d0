// The restore time (RTO) of a farm with N finished videos: `farm-coordinator backup` then `restore` of a
// PostgreSQL store and a data folder, against the baseline of the same work done by the bare tools in the
// same run (pg_dump + pg_restore of the database, `cp -a` of the folder, then `sync`: both flush to disk
// once), so the figure says what the checksums and checks cost on top of copying.
//
//   swift run -c release RestoreBenchmark postgres://user@host:port/db [videos]
//
// Each video has 4 tasks and the files a published 10-second, three-rendition video has at -ql
// (playlists, init segments, 5 segments per rendition, video.mp4), at their real sizes (about 1.1 MB).
import Coordinator
import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Logging

let arguments = CommandLine.arguments.dropFirst()
guard let serverURL = arguments.first(where: { $0.hasPrefix("postgres") }) ?? ProcessInfo.processInfo.environment["FARM_TEST_POSTGRES_URL"] else {
    print("usage: RestoreBenchmark postgres://user@host:port/db [videos]")
    exit(2)
}
let videos = arguments.compactMap { Int($0) }.first ?? 1_000
let logger = Logger(label: "bench")
let work = FileManager.default.temporaryDirectory.appendingPathComponent("farm-restore-bench-\(UUID().uuidString.prefix(8))")
defer { try? FileManager.default.removeItem(at: work) }

func shell(_ command: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw NSError(domain: "bench", code: Int(process.terminationStatus), userInfo: [NSLocalizedDescriptionKey: command]) }
}

func database(_ name: String) throws -> String {
    try shell("psql '\(serverURL)' -q -c 'DROP DATABASE IF EXISTS \(name) WITH (FORCE)' -c 'CREATE DATABASE \(name)'")
    var components = URLComponents(string: serverURL)!
    components.path = "/\(name)"
    return components.string!
}

func seconds(_ body: () async throws -> Void) async throws -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

// A store of `videos` finished videos and their published files.
let source = try database("farm_restore_bench_source")
let data = work.appendingPathComponent("data")
let store = try PostgresStore(url: source, logger: logger)
let pool = Task { await store.run() }
try await store.migrate()
let segment = Data(repeating: 0x5A, count: 60_000)
let now = Date()
for index in 0..<videos {
    let id = String(format: "vbench%06d", index)
    var video = VideoRecord(id: id, state: .done, scriptName: "lesson.py", script: String(repeating: "# a line of the script\n", count: 40),
                            settings: RenderSettings(), encoding: EncodingPlan(renditions: [Rendition(height: 480), Rendition(height: 360), Rendition(height: 240)]),
                            idempotencyKey: nil, createdAt: now)
    video.frames = 150
    let tasks = (0..<4).map { TaskRecord(id: "\(id)-\($0)", videoID: id, ordinal: $0, scene: "Scene\($0)", requiresLaTeX: false, createdAt: now) }
    _ = try await store.insert(video, tasks: tasks)
    let folder = data.appendingPathComponent("published/\(id)")
    for rendition in ["480p", "360p", "240p"] {
        let renditionFolder = folder.appendingPathComponent(rendition)
        try FileManager.default.createDirectory(at: renditionFolder, withIntermediateDirectories: true)
        try Data("#EXTM3U\n#EXT-X-VERSION:7\n".utf8).write(to: renditionFolder.appendingPathComponent("index.m3u8"))
        try Data(repeating: 1, count: 800).write(to: renditionFolder.appendingPathComponent("init.mp4"))
        for number in 1...5 { try segment.prefix(rendition == "480p" ? 60_000 : rendition == "360p" ? 35_000 : 20_000).write(to: renditionFolder.appendingPathComponent(String(format: "segment_%05d.m4s", number))) }
    }
    try Data("#EXTM3U\n".utf8).write(to: folder.appendingPathComponent("master.m3u8"))
    try segment.prefix(300_000).write(to: folder.appendingPathComponent("video.mp4"))
}
pool.cancel()
print("seeded \(videos) videos")

// Baseline: the bare tools.
let rawTarget = try database("farm_restore_bench_raw")
let rawFolder = work.appendingPathComponent("raw")
let baselineBackup = try await seconds {
    try shell("pg_dump --format=custom --no-owner --no-privileges --dbname '\(source)' --file '\(work.path)/raw.dump' && cp -a '\(data.path)' '\(rawFolder.path)-backup' && sync")
}
let baselineRestore = try await seconds {
    try shell("pg_restore --exit-on-error --no-owner --no-privileges --single-transaction --dbname '\(rawTarget)' '\(work.path)/raw.dump' && cp -a '\(rawFolder.path)-backup' '\(rawFolder.path)' && sync")
}

// The farm's backup and restore: the same, with every file's SHA-256 written and checked.
let target = try database("farm_restore_bench_target")
let backupFolder = work.appendingPathComponent("backup")
var manifest: BackupManifest?
let farmBackup = try await seconds { manifest = try await FarmBackup.backup(dataDirectory: data, databaseURL: source, to: backupFolder) }
let farmRestore = try await seconds {
    _ = try await FarmBackup.restore(from: backupFolder, dataDirectory: work.appendingPathComponent("restored"), databaseURL: target)
}
let bytes = manifest.map { $0.files.reduce($0.databaseBytes) { $0 + $1.bytes } } ?? 0
print(String(format: "%d videos, %d files, %.1f MB", videos, manifest?.files.count ?? 0, Double(bytes) / 1e6))
print(String(format: "backup:  farm %.2f s, bare tools %.2f s, ratio %.2f", farmBackup, baselineBackup, farmBackup / baselineBackup))
print(String(format: "restore: farm %.2f s, bare tools %.2f s, ratio %.2f", farmRestore, baselineRestore, farmRestore / baselineRestore))
for name in ["farm_restore_bench_source", "farm_restore_bench_raw", "farm_restore_bench_target"] {
    try? shell("psql '\(serverURL)' -q -c 'DROP DATABASE IF EXISTS \(name) WITH (FORCE)'")
}
