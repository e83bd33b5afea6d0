import FarmModel
import FarmProtocol
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The production store: PostgreSQL through PostgresNIO's pooled `PostgresClient`.
/// Every statement binds its values as parameters; none is built from user data.
///
/// A `Service`: its connection pool runs in `run()`, which the coordinator's
/// service group owns (queries wait until it runs).
public final class PostgresStore: FarmStore, Service {
    let client: PostgresClient
    let logger: Logger

    /// A store for `url` (`postgres://user:password@host:port/database`); the
    /// pool connects once `run()` runs and reconnects by itself after the server restarts.
    public init(url: String, logger: Logger) throws {
        let configuration = try Self.configuration(from: url)
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
    }

    /// Runs the connection pool until cancelled or shut down gracefully (after the services that write).
    public func run() async {
        await client.run()
    }

    /// Parses a `postgres://` URL into a client configuration (TLS off unless `sslmode=require`).
    static func configuration(from url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme),
              let host = components.host else {
            throw StoreError.unavailable("not a postgres:// URL: \(url)")
        }
        let requireTLS = components.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } ?? false
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: String(components.path.dropFirst()).nilIfEmpty,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }

    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // Two coordinators starting at once: the second waits here, then finds nothing to do.
            try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresMigrations.lockKey))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS farm_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM farm_migrations", logger: logger)
                .decode(Int.self) {
                applied.insert(version)
            }
            for migration in PostgresMigrations.all where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO farm_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
            }
        }
    }

    public func insert(_ video: VideoRecord, tasks: [TaskRecord]) async throws -> VideoRecord {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            if let key = video.idempotencyKey {
                // Serialise submissions that share a key, then look for an earlier one.
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(key)))", logger: logger)
                let rows = try await connection.query("\(unescaped: Self.videoColumns) WHERE idempotency_key = \(key)", logger: logger)
                for try await row in rows { return try Self.video(row) }
            }
            try await connection.query("""
                INSERT INTO videos (id, state, script_name, script, settings, encoding, idempotency_key, error,
                                    created_at, updated_at, frames, seconds, options, team_id, user_id)
                VALUES (\(video.id), \(video.state.rawValue), \(video.scriptName), \(video.script),
                        \(try Self.json(video.settings))::jsonb, \(try Self.json(video.encoding))::jsonb,
                        \(video.idempotencyKey), \(video.error), \(video.createdAt), \(video.updatedAt),
                        \(video.frames), \(video.seconds), \(try Self.json(video.options))::jsonb, \(video.teamID), \(video.userID))
                """, logger: logger)
            for task in tasks {
                try await connection.query(try Self.insertTask(task), logger: logger)
            }
            return video
        }
    }

    /// Every (table, column, nullable) of the public schema, for checks that the two stores agree.
    public func columns() async throws -> [(table: String, column: String, nullable: Bool)] {
        var result: [(String, String, Bool)] = []
        let rows = try await client.query("""
            SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns
            WHERE table_schema = 'public'
            """, logger: logger)
        for try await (table, column, nullable) in rows.decode((String, String, String).self) {
            result.append((table, column, nullable == "YES"))
        }
        return result
    }

    public func video(id: String) async throws -> VideoRecord? {
        for try await row in try await client.query("\(unescaped: Self.videoColumns) WHERE id = \(id)", logger: logger) {
            return try Self.video(row)
        }
        return nil
    }

    public func videos(limit: Int) async throws -> [VideoRecord] {
        var result: [VideoRecord] = []
        let rows = try await client.query("\(unescaped: Self.videoColumns) ORDER BY created_at DESC LIMIT \(limit)", logger: logger)
        for try await row in rows { result.append(try Self.video(row)) }
        return result
    }

    public func tasks(videoID: String) async throws -> [TaskRecord] {
        var result: [TaskRecord] = []
        let rows = try await client.query(
            "\(unescaped: Self.taskColumns) WHERE video_id = \(videoID) ORDER BY ordinal", logger: logger)
        for try await row in rows { result.append(try Self.task(row)) }
        return result
    }

    /// One consistent snapshot (a repeatable-read, read-only transaction): a video and its
    /// tasks are never read from two different moments.
    public func unfinished() async throws -> [(VideoRecord, [TaskRecord])] {
        let logger = self.logger
        let finals = VideoState.allCases.filter(\.isFinal).map(\.rawValue)
        return try await client.withConnection { connection in
            try await connection.query("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
            do {
                var videos: [VideoRecord] = []
                for try await row in try await connection.query(
                    "\(unescaped: Self.videoColumns) WHERE NOT (state = ANY(\(finals))) ORDER BY created_at", logger: logger) {
                    videos.append(try Self.video(row))
                }
                var tasksByVideo: [String: [TaskRecord]] = [:]
                for try await row in try await connection.query("""
                    \(unescaped: Self.taskColumns) WHERE video_id IN (SELECT id FROM videos WHERE NOT (state = ANY(\(finals))))
                    ORDER BY video_id, ordinal
                    """, logger: logger) {
                    let task = try Self.task(row)
                    tasksByVideo[task.videoID, default: []].append(task)
                }
                try await connection.query("COMMIT", logger: logger)
                return videos.map { ($0, tasksByVideo[$0.id] ?? []) }
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    public func update(_ video: VideoRecord) async throws {
        try await client.query(Self.updateVideo(video), logger: logger)
    }

    public func update(_ task: TaskRecord) async throws {
        try await client.query(Self.updateTask(task), logger: logger)
    }

    public func update(_ task: TaskRecord, attempt: AttemptRecord) async throws {
        try await apply([.attempt(task, attempt)])
    }

    /// One transaction: the burst's task and attempt rows in one multi-row upsert each
    /// (`PostgresBatch`), the rare changes one statement each.
    public func apply(_ changes: [StoreChange]) async throws {
        let logger = self.logger
        let batch = try PostgresBatch(changes)
        let statements = [try batch.taskStatement(), try batch.attemptStatement()].compactMap { $0 } + batch.others
        try await client.withTransaction(logger: logger) { connection in
            for statement in statements { try await connection.query(statement, logger: logger) }
        }
    }

    public func commitPlan(_ plan: TaskRecord, attempt: AttemptRecord, tasks: [TaskRecord]) async throws {
        try await apply([.planned(plan, attempt, tasks)])
    }

    public func cachedRender(contentHash: String) async throws -> CachedRender? {
        let rows = try await client.query("""
            UPDATE render_cache SET last_used_at = \(Date()) WHERE content_hash = \(contentHash)
            RETURNING content_hash, result::text, artifact_path, created_at, last_used_at
            """, logger: logger)
        for try await (hash, result, path, createdAt, lastUsedAt) in rows.decode((String, String, String, Date, Date).self) {
            var render = CachedRender(contentHash: hash, result: try Self.decodeJSON(result), artifactPath: path, createdAt: createdAt)
            render.lastUsedAt = lastUsedAt
            return render
        }
        return nil
    }

    public func saveCachedRender(_ render: CachedRender) async throws {
        try await client.query(try Self.upsertCachedRender(render), logger: logger)
    }

    static func upsertCachedRender(_ render: CachedRender) throws -> PostgresQuery {
        """
        INSERT INTO render_cache (content_hash, result, artifact_path, created_at, last_used_at)
        VALUES (\(render.contentHash), \(try json(render.result))::jsonb, \(render.artifactPath),
                \(render.createdAt), \(render.lastUsedAt))
        ON CONFLICT (content_hash) DO UPDATE SET result = EXCLUDED.result, artifact_path = EXCLUDED.artifact_path,
            last_used_at = EXCLUDED.last_used_at
        """
    }

    public func cachedRendersByLastUse() async throws -> [CachedRender] {
        let rows = try await client.query("""
            SELECT content_hash, result::text, artifact_path, created_at, last_used_at
            FROM render_cache ORDER BY last_used_at, content_hash
            """, logger: logger)
        var renders: [CachedRender] = []
        for try await (hash, result, path, createdAt, lastUsedAt) in rows.decode((String, String, String, Date, Date).self) {
            var render = CachedRender(contentHash: hash, result: try Self.decodeJSON(result), artifactPath: path, createdAt: createdAt)
            render.lastUsedAt = lastUsedAt
            renders.append(render)
        }
        return renders
    }

    public func cachedPlan(key: String) async throws -> CachedPlan? {
        let rows = try await client.query("""
            SELECT plan_key, scenes::text, manim_version, created_at FROM plan_cache WHERE plan_key = \(key)
            """, logger: logger)
        for try await (key, scenes, manimVersion, createdAt) in rows.decode((String, String, String, Date).self) {
            return CachedPlan(planKey: key, scenes: try Self.decodeJSON(scenes), manimVersion: manimVersion, createdAt: createdAt)
        }
        return nil
    }

    public func saveCachedPlan(_ plan: CachedPlan) async throws {
        try await client.query(try Self.upsertCachedPlan(plan), logger: logger)
    }

    static func upsertCachedPlan(_ plan: CachedPlan) throws -> PostgresQuery {
        """
        INSERT INTO plan_cache (plan_key, scenes, manim_version, created_at)
        VALUES (\(plan.planKey), \(try json(plan.scenes))::jsonb, \(plan.manimVersion), \(plan.createdAt))
        ON CONFLICT (plan_key) DO UPDATE SET scenes = EXCLUDED.scenes, manim_version = EXCLUDED.manim_version
        """
    }

    public func removeCachedRender(contentHash: String) async throws {
        try await client.query("DELETE FROM render_cache WHERE content_hash = \(contentHash)", logger: logger)
    }

    public func attempts(taskID: String) async throws -> [AttemptRecord] {
        var result: [AttemptRecord] = []
        let rows = try await client.query("""
            SELECT task_id, attempt, agent_id, started_at, ended_at, outcome, log_tail
            FROM attempts WHERE task_id = \(taskID) ORDER BY attempt
            """, logger: logger)
        for try await (taskID, number, agentID, startedAt, endedAt, outcome, logTail) in rows.decode(
            (String, Int, String, Date, Date?, String?, String?).self) {
            var attempt = AttemptRecord(taskID: taskID, attempt: number, agentID: agentID, startedAt: startedAt)
            attempt.endedAt = endedAt
            attempt.outcome = outcome
            attempt.logTail = logTail
            result.append(attempt)
        }
        return result
    }

    public func save(_ agent: AgentRecord) async throws {
        try await client.query(Self.upsertAgent(agent), logger: logger)
    }

    public func agents() async throws -> [AgentRecord] {
        var result: [AgentRecord] = []
        let rows = try await client.query("""
            SELECT id, hostname, slots, cores, memory_bytes, manim_version, has_latex, last_seen FROM agents ORDER BY id
            """, logger: logger)
        for try await (id, hostname, slots, cores, memory, manim, latex, lastSeen) in rows.decode(
            (String, String, Int, Int, Int64, String, Bool, Date).self) {
            result.append(AgentRecord(Register(agentID: id, hostname: hostname, slots: slots, cores: cores, memoryBytes: memory,
                                               manimVersion: manim, hasLaTeX: latex), lastSeen: lastSeen))
        }
        return result
    }

    // MARK: Rows

    static let videoColumns = """
        SELECT id, state, script_name, script, settings::text, encoding::text, idempotency_key, error,
               created_at, updated_at, frames, seconds, options::text, team_id, user_id, expired_at FROM videos
        """

    static let taskColumns = """
        SELECT id, video_id, ordinal, scene, requires_latex, state, attempt, failures, agent_id, frames_done,
               error::text, result::text, updated_at, work::text FROM tasks
        """

    static func video(_ row: PostgresRow) throws -> VideoRecord {
        let (id, state, scriptName, script, settings, encoding, key, error, createdAt, updatedAt, frames, seconds, options, teamID, userID,
             expiredAt) = try row.decode(
            (String, String, String, String, String, String, String?, String?, Date, Date, Int?, Double?, String, String?, String?, Date?).self)
        var video = VideoRecord(
            id: id, state: try enumValue(state), scriptName: scriptName, script: script,
            settings: try decodeJSON(settings), encoding: try decodeJSON(encoding), idempotencyKey: key, createdAt: createdAt)
        video.error = error
        video.updatedAt = updatedAt
        video.frames = frames
        video.seconds = seconds
        video.options = try decodeJSON(options)
        video.teamID = teamID
        video.userID = userID
        video.expiredAt = expiredAt
        return video
    }

    static func task(_ row: PostgresRow) throws -> TaskRecord {
        let (id, videoID, ordinal, scene, latex, state, attempt, failures, agentID, framesDone, error, result, updatedAt, work) =
            try row.decode((String, String, Int, String, Bool, String, Int, Int, String?, Int, String?, String?, Date, String).self)
        var task = TaskRecord(id: id, videoID: videoID, ordinal: ordinal, scene: scene, requiresLaTeX: latex, createdAt: updatedAt)
        task.state = try enumValue(state)
        task.attempt = attempt
        task.failures = failures
        task.agentID = agentID
        task.framesDone = framesDone
        task.error = try error.map { try decodeJSON($0) }
        task.result = try result.map { try decodeJSON($0) }
        task.work = try decodeJSON(work)
        return task
    }

    static func updateTask(_ task: TaskRecord) throws -> PostgresQuery {
        """
        UPDATE tasks SET state = \(task.state.rawValue), attempt = \(task.attempt), failures = \(task.failures),
            agent_id = \(task.agentID), frames_done = \(task.framesDone), error = \(try json(task.error))::jsonb,
            result = \(try json(task.result))::jsonb, updated_at = \(task.updatedAt), work = \(try json(task.work))::jsonb
        WHERE id = \(task.id)
        """
    }

    /// The options change after submission when planning adds the narration it spoke to the video's assets.
    static func updateVideo(_ video: VideoRecord) -> PostgresQuery {
        """
        UPDATE videos SET state = \(video.state.rawValue), error = \(video.error), updated_at = \(video.updatedAt),
            frames = \(video.frames), seconds = \(video.seconds),
            options = COALESCE(\(try? Self.json(video.options))::jsonb, options)
        WHERE id = \(video.id)
        """
    }

    static func upsertAgent(_ agent: AgentRecord) -> PostgresQuery {
        """
        INSERT INTO agents (id, hostname, slots, cores, memory_bytes, manim_version, has_latex, last_seen)
        VALUES (\(agent.id), \(agent.hostname), \(agent.slots), \(agent.cores), \(agent.memoryBytes),
                \(agent.manimVersion), \(agent.hasLaTeX), \(agent.lastSeen))
        ON CONFLICT (id) DO UPDATE SET hostname = EXCLUDED.hostname, slots = EXCLUDED.slots, cores = EXCLUDED.cores,
            memory_bytes = EXCLUDED.memory_bytes, manim_version = EXCLUDED.manim_version,
            has_latex = EXCLUDED.has_latex, last_seen = EXCLUDED.last_seen
        """
    }

    static func upsertAttempt(_ attempt: AttemptRecord) -> PostgresQuery {
        """
        INSERT INTO attempts (task_id, attempt, agent_id, started_at, ended_at, outcome, log_tail)
        VALUES (\(attempt.taskID), \(attempt.attempt), \(attempt.agentID), \(attempt.startedAt),
                \(attempt.endedAt), \(attempt.outcome), \(attempt.logTail))
        ON CONFLICT (task_id, attempt) DO UPDATE SET agent_id = EXCLUDED.agent_id,
            started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, outcome = EXCLUDED.outcome,
            log_tail = EXCLUDED.log_tail
        """
    }

    static func insertTask(_ task: TaskRecord, replacing: Bool = false) throws -> PostgresQuery {
        """
        INSERT INTO tasks (id, video_id, ordinal, scene, requires_latex, state, attempt, failures, agent_id,
                           frames_done, error, result, updated_at, work)
        VALUES (\(task.id), \(task.videoID), \(task.ordinal), \(task.scene), \(task.requiresLaTeX),
                \(task.state.rawValue), \(task.attempt), \(task.failures), \(task.agentID), \(task.framesDone),
                \(try json(task.error))::jsonb, \(try json(task.result))::jsonb, \(task.updatedAt), \(try json(task.work))::jsonb)
        \(unescaped: replacing ? Self.replaceTask : "")
        """
    }

    /// A planned task written again replaces the earlier row, as SQLite's `save` does.
    static let replaceTask = """
        ON CONFLICT (id) DO UPDATE SET video_id = EXCLUDED.video_id, ordinal = EXCLUDED.ordinal, scene = EXCLUDED.scene,
            requires_latex = EXCLUDED.requires_latex, state = EXCLUDED.state, attempt = EXCLUDED.attempt,
            failures = EXCLUDED.failures, agent_id = EXCLUDED.agent_id, frames_done = EXCLUDED.frames_done,
            error = EXCLUDED.error, result = EXCLUDED.result, updated_at = EXCLUDED.updated_at, work = EXCLUDED.work
        """

    static func json<T: Encodable>(_ value: T?) throws -> String? {
        guard let value else { return nil }
        return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    static func enumValue<T: RawRepresentable>(_ raw: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: raw) else { throw StoreError.unavailable("unknown \(T.self) value \(raw)") }
        return value
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
