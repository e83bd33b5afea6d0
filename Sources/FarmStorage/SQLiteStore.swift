import FarmModel
import Foundation
import GRDB

extension VideoRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "videos"
}

extension TaskRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "tasks"
}

extension AttemptRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "attempts"
}

extension CachedRender: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "render_cache"
}

extension CachedPlan: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "plan_cache"
}

extension AgentRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "agents"
}

/// The embedded store: one SQLite database in WAL mode, through GRDB.
/// GRDB runs every statement on its own serial queues, never on Swift's
/// cooperative pool.
public final class SQLiteStore: FarmStore {
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync is durable across process crashes (kill -9);
            // only an OS crash can lose the last transactions.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Deleted and overwritten content is zeroed in the file, not left in free space: an
            // erased user's script must not survive in the database's pages.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
    }

    public func migrate() async throws {
        // On the pool's own writer queue (GRDB's serial queue), never the cooperative pool or the global queues.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Self.migrator.asyncMigrate(pool) { result in continuation.resume(with: result.map { _ in () }) }
        }
    }

    /// `FarmSchema`'s migrations rendered for SQLite, under the names GRDB recorded them by.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in FarmSchema.migrations {
            migrator.registerMigration("\(migration.version)-\(migration.name)") { db in
                for statement in SchemaSQL.statements(migration, for: .sqlite) { try db.execute(sql: statement) }
            }
        }
        return migrator
    }

    public func insert(_ video: VideoRecord, tasks: [TaskRecord]) async throws -> VideoRecord {
        try await pool.write { db in
            if let key = video.idempotencyKey,
               let existing = try VideoRecord.filter(Column("idempotencyKey") == key).fetchOne(db) {
                return existing
            }
            try video.insert(db)
            for task in tasks { try task.insert(db) }
            return video
        }
    }

    public func video(id: String) async throws -> VideoRecord? {
        try await pool.read { db in try VideoRecord.fetchOne(db, key: id) }
    }

    public func videos(limit: Int) async throws -> [VideoRecord] {
        try await pool.read { db in
            try VideoRecord.order(Column("createdAt").desc).limit(limit).fetchAll(db)
        }
    }

    public func tasks(videoID: String) async throws -> [TaskRecord] {
        try await pool.read { db in
            try TaskRecord.filter(Column("videoID") == videoID).order(Column("ordinal")).fetchAll(db)
        }
    }

    public func unfinished() async throws -> [(VideoRecord, [TaskRecord])] {
        try await pool.read { db in
            let finals = VideoState.allCases.filter(\.isFinal).map(\.rawValue)
            let videos = try VideoRecord.filter(!finals.contains(Column("state")))
                .order(Column("createdAt")).fetchAll(db)
            return try videos.map { video in
                (video, try TaskRecord.filter(Column("videoID") == video.id).order(Column("ordinal")).fetchAll(db))
            }
        }
    }

    public func update(_ video: VideoRecord) async throws {
        try await apply([.video(video)])
    }

    public func update(_ task: TaskRecord) async throws {
        try await apply([.task(task)])
    }

    public func update(_ task: TaskRecord, attempt: AttemptRecord) async throws {
        try await apply([.attempt(task, attempt)])
    }

    public func attempts(taskID: String) async throws -> [AttemptRecord] {
        try await pool.read { db in
            try AttemptRecord.filter(Column("taskID") == taskID).order(Column("attempt")).fetchAll(db)
        }
    }

    public func apply(_ changes: [StoreChange]) async throws {
        try await pool.write { db in
            for change in changes {
                switch change {
                case .video(let video): try video.update(db)
                case .task(let task): try task.update(db)
                case .attempt(let task, let attempt):
                    try task.update(db)
                    try attempt.save(db)
                case .agent(let agent): try agent.save(db)
                case .planned(let plan, let attempt, let tasks):
                    try plan.update(db)
                    try attempt.save(db)
                    for task in tasks { try task.save(db) }
                case .cachedRender(let render): try render.save(db)
                case .cachedPlan(let plan): try plan.save(db)
                case .uncachedRender(let contentHash): _ = try CachedRender.deleteOne(db, key: contentHash)
                }
            }
        }
    }

    public func commitPlan(_ plan: TaskRecord, attempt: AttemptRecord, tasks: [TaskRecord]) async throws {
        try await apply([.planned(plan, attempt, tasks)])
    }

    public func cachedRender(contentHash: String) async throws -> CachedRender? {
        try await pool.write { db in
            guard var render = try CachedRender.fetchOne(db, key: contentHash) else { return nil }
            render.lastUsedAt = Date()
            try render.update(db)
            return render
        }
    }

    public func saveCachedRender(_ render: CachedRender) async throws {
        try await pool.write { db in try render.save(db) }
    }

    public func cachedRendersByLastUse() async throws -> [CachedRender] {
        try await pool.read { db in try CachedRender.order(Column("lastUsedAt"), Column("contentHash")).fetchAll(db) }
    }

    public func cachedPlan(key: String) async throws -> CachedPlan? {
        try await pool.read { db in try CachedPlan.fetchOne(db, key: key) }
    }

    public func saveCachedPlan(_ plan: CachedPlan) async throws {
        try await pool.write { db in try plan.save(db) }
    }

    public func removeCachedRender(contentHash: String) async throws {
        _ = try await pool.write { db in try CachedRender.deleteOne(db, key: contentHash) }
    }

    public func save(_ agent: AgentRecord) async throws {
        try await pool.write { db in try agent.save(db) }
    }

    public func agents() async throws -> [AgentRecord] {
        try await pool.read { db in try AgentRecord.order(Column("id")).fetchAll(db) }
    }
}
