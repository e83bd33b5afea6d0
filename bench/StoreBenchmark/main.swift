// Task state changes per second each store sustains, against the bare driver
// doing the same statements in the same process.
//
//   swift run -c release StoreBenchmark [postgres://user@host:port/db] [changes]
//
// A "state change" is what the coordinator writes most: a task row update
// together with its attempt-history upsert, in one transaction.
import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import GRDB
import Logging
import PostgresNIO

let arguments = CommandLine.arguments.dropFirst()
let postgresURL = arguments.first { $0.hasPrefix("postgres") } ?? ProcessInfo.processInfo.environment["FARM_TEST_POSTGRES_URL"]
let changes = arguments.compactMap { Int($0) }.first ?? 2_000
let logger = Logger(label: "bench")

func seed(_ store: any FarmStore, tag: String) async throws -> [TaskRecord] {
    let now = Date()
    let video = VideoRecord(id: "bench-\(tag)", state: .rendering, scriptName: "b.py", script: "x", settings: RenderSettings(),
                            encoding: EncodingPlan(renditions: [Rendition(height: 480)]), idempotencyKey: nil, createdAt: now)
    let tasks = (0..<50).map { TaskRecord(id: "bench-\(tag)-\($0)", videoID: video.id, ordinal: $0, scene: "S\($0)", requiresLaTeX: false, createdAt: now) }
    _ = try await store.insert(video, tasks: tasks)
    return tasks
}

func change(_ tasks: [TaskRecord], _ index: Int) -> (TaskRecord, AttemptRecord) {
    var task = tasks[index % tasks.count]
    task.attempt = index / tasks.count + 1
    task.state = index % 2 == 0 ? .running : .pending
    task.agentID = "agent-\(index % 7)"
    task.updatedAt = Date()
    return (task, AttemptRecord(taskID: task.id, attempt: task.attempt, agentID: task.agentID!, startedAt: Date()))
}

func measure(_ label: String, _ body: () async throws -> Void) async throws -> Double {
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let rate = Double(changes) / seconds
    print(String(format: "  %-44@ %8.0f changes/s", label as NSString, rate))
    return rate
}

// SQLite: SQLiteStore against GRDB executing the same two statements.
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
print("SQLite (WAL, synchronous=NORMAL), \(changes) sequential changes")
let sqlite = try SQLiteStore(path: folder.appendingPathComponent("store.sqlite").path)
try await sqlite.migrate()
let sqliteTasks = try await seed(sqlite, tag: "s")
let sqliteRate = try await measure("SQLiteStore.update(task, attempt:)") {
    for index in 0..<changes {
        let (task, attempt) = change(sqliteTasks, index)
        try await sqlite.update(task, attempt: attempt)
    }
}
let raw = try DatabasePool(path: folder.appendingPathComponent("store.sqlite").path)
let rawRate = try await measure("baseline: GRDB, same statements") {
    for index in 0..<changes {
        let (task, attempt) = change(sqliteTasks, index)
        try await raw.write { db in
            try db.execute(sql: "UPDATE tasks SET state = ?, attempt = ?, agentID = ?, updatedAt = ? WHERE id = ?",
                           arguments: [task.state.rawValue, task.attempt, task.agentID, task.updatedAt, task.id])
            try db.execute(sql: "INSERT OR REPLACE INTO attempts (taskID, attempt, agentID, startedAt) VALUES (?, ?, ?, ?)",
                           arguments: [attempt.taskID, attempt.attempt, attempt.agentID, attempt.startedAt])
        }
    }
}
print(String(format: "  ratio store/baseline: %.2f", sqliteRate / rawRate))

if let postgresURL {
    print("PostgreSQL, \(changes) changes, sequential and 8 concurrent writers")
    let postgres = try PostgresStore(url: postgresURL, logger: logger)
    let pool = Task { await postgres.run() }
    defer { pool.cancel() }
    try await postgres.migrate()
    let tasks = try await seed(postgres, tag: "p\(UUID().uuidString.prefix(6))")
    let sequential = try await measure("PostgresStore.update(task, attempt:)") {
        for index in 0..<changes {
            let (task, attempt) = change(tasks, index)
            try await postgres.update(task, attempt: attempt)
        }
    }
    let concurrent = try await measure("PostgresStore, 8 concurrent writers") {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for index in stride(from: worker, to: changes, by: 8) {
                        let (task, attempt) = change(tasks, index)
                        try await postgres.update(task, attempt: attempt)
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    var configuration = PostgresClient.Configuration(host: URLComponents(string: postgresURL)!.host!,
                                                     port: URLComponents(string: postgresURL)!.port ?? 5432,
                                                     username: URLComponents(string: postgresURL)!.user ?? "postgres",
                                                     password: nil, database: String(URLComponents(string: postgresURL)!.path.dropFirst()),
                                                     tls: .disable)
    configuration.options.maximumConnections = 20
    let client = PostgresClient(configuration: configuration)
    let runner = Task { await client.run() }
    let baseline = try await measure("baseline: PostgresClient, same statements") {
        for index in 0..<changes {
            let (task, attempt) = change(tasks, index)
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    UPDATE tasks SET state = \(task.state.rawValue), attempt = \(task.attempt), agent_id = \(task.agentID),
                        updated_at = \(task.updatedAt) WHERE id = \(task.id)
                    """, logger: logger)
                try await connection.query("""
                    INSERT INTO attempts (task_id, attempt, agent_id, started_at) VALUES
                        (\(attempt.taskID), \(attempt.attempt), \(attempt.agentID), \(attempt.startedAt))
                    ON CONFLICT (task_id, attempt) DO UPDATE SET agent_id = EXCLUDED.agent_id
                    """, logger: logger)
            }
        }
    }
    runner.cancel()
    print(String(format: "  ratio store/baseline (sequential): %.2f; concurrent/sequential: %.2f", sequential / baseline, concurrent / sequential))
} else {
    print("PostgreSQL skipped: pass a postgres:// URL or set FARM_TEST_POSTGRES_URL (make bench-store starts a server)")
}
