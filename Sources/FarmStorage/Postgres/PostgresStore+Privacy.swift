import FarmModel
import Foundation
import Logging
import PostgresNIO

/// Export, erasure and retention in PostgreSQL.
extension PostgresStore: PrivacyStore {
    public func videos(userID: String) async throws -> [VideoRecord] {
        try await videos(where: "WHERE user_id = \(userID) ORDER BY created_at, id")
    }

    public func expirableVideos(teamID: String, before cutoff: Date, limit: Int) async throws -> [VideoRecord] {
        let finals = VideoState.allCases.filter(\.isFinal).map(\.rawValue)
        return try await videos(where: """
            WHERE team_id = \(teamID) AND state = ANY(\(finals)) AND updated_at < \(cutoff) AND expired_at IS NULL
            ORDER BY updated_at LIMIT \(limit)
            """)
    }

    private func videos(where filter: PostgresQuery) async throws -> [VideoRecord] {
        var query = PostgresQuery(unsafeSQL: Self.videoColumns + " ")
        query.sql += filter.sql
        query.binds = filter.binds
        var result: [VideoRecord] = []
        for try await row in try await client.query(query, logger: logger) { result.append(try Self.video(row)) }
        return result
    }

    public func anonymise(videoID: String, options: VideoOptions) async throws {
        let logger = self.logger
        let optionsJSON = try Self.json(options)
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                UPDATE videos SET script = '', script_name = 'erased.py', idempotency_key = NULL,
                    error = CASE WHEN error IS NULL THEN NULL ELSE 'erased' END, options = \(optionsJSON)::jsonb WHERE id = \(videoID)
                """, logger: logger)
            try await connection.query("UPDATE tasks SET scene = 'erased-' || ordinal WHERE video_id = \(videoID)", logger: logger)
            try await Self.dropLogs(connection, videoID: videoID, logger: logger)
        }
    }

    public func expire(videoID: String, at: Date) async throws {
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            try await Self.dropLogs(connection, videoID: videoID, logger: logger)
            try await connection.query("UPDATE videos SET expired_at = \(at) WHERE id = \(videoID)", logger: logger)
        }
    }

    /// A video's logs: tasks' errors and notes, attempts' log tails, and its artifacts' rows.
    private static func dropLogs(_ connection: PostgresConnection, videoID: String, logger: Logger) async throws {
        try await connection.query("UPDATE tasks SET error = NULL, work = work - 'note' WHERE video_id = \(videoID)", logger: logger)
        try await connection.query(
            "UPDATE attempts SET log_tail = NULL WHERE task_id IN (SELECT id FROM tasks WHERE video_id = \(videoID))", logger: logger)
        try await connection.query("DELETE FROM artifacts WHERE video_id = \(videoID)", logger: logger)
    }

    public func cachedPlanManimVersions() async throws -> [String] {
        var versions: [String] = []
        for try await version in try await client.query("SELECT DISTINCT manim_version FROM plan_cache", logger: logger).decode(String.self) {
            versions.append(version)
        }
        return versions
    }

    public func removeCachedPlans(keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        var removed = 0
        for try await _ in try await client.query("DELETE FROM plan_cache WHERE plan_key = ANY(\(keys)) RETURNING plan_key",
                                                  logger: logger).decode(String.self) { removed += 1 }
        return removed
    }

    public func compact() async throws {
        // Dead row versions keep the old bytes until vacuumed. VACUUM cannot run in a transaction;
        // each statement here runs alone.
        for table in ["videos", "tasks", "attempts", "plan_cache", "render_cache", "generations"] {
            try await client.query(PostgresQuery(unsafeSQL: "VACUUM \(table)"), logger: logger)
        }
    }
}
