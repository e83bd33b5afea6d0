import FarmModel
import Foundation
import GRDB

extension SQLiteStore: PrivacyStore {
    public func videos(userID: String) async throws -> [VideoRecord] {
        try await pool.read { db in
            try VideoRecord.filter(Column("userID") == userID).order(Column("createdAt"), Column("id")).fetchAll(db)
        }
    }

    public func expirableVideos(teamID: String, before cutoff: Date, limit: Int) async throws -> [VideoRecord] {
        let finals = VideoState.allCases.filter(\.isFinal).map(\.rawValue)
        return try await pool.read { db in
            try VideoRecord.filter(Column("teamID") == teamID && finals.contains(Column("state")) && Column("updatedAt") < cutoff
                                   && Column("expiredAt") == nil)
                .order(Column("updatedAt")).limit(limit).fetchAll(db)
        }
    }

    public func anonymise(videoID: String, options: VideoOptions) async throws {
        let optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        try await pool.write { db in
            try db.execute(sql: """
                UPDATE videos SET script = '', scriptName = 'erased.py', idempotencyKey = NULL,
                    error = CASE WHEN error IS NULL THEN NULL ELSE 'erased' END, options = ? WHERE id = ?
                """, arguments: [optionsJSON, videoID])
            try db.execute(sql: "UPDATE tasks SET scene = 'erased-' || ordinal WHERE videoID = ?", arguments: [videoID])
            try Self.dropLogs(db, videoID: videoID)
        }
    }

    public func expire(videoID: String, at: Date) async throws {
        try await pool.write { db in
            try Self.dropLogs(db, videoID: videoID)
            try db.execute(sql: "UPDATE videos SET expiredAt = ? WHERE id = ?", arguments: [at, videoID])
        }
    }

    /// A video's logs: tasks' errors and notes (a note can quote the script's error: "planning failed:
    /// ValueError: …"), attempts' log tails, and its artifacts' rows.
    private static func dropLogs(_ db: Database, videoID: String) throws {
        try db.execute(sql: "UPDATE tasks SET error = NULL, work = json_remove(work, '$.note') WHERE videoID = ?", arguments: [videoID])
        try db.execute(sql: "UPDATE attempts SET logTail = NULL WHERE taskID IN (SELECT id FROM tasks WHERE videoID = ?)",
                       arguments: [videoID])
        try db.execute(sql: "DELETE FROM artifacts WHERE videoID = ?", arguments: [videoID])
    }

    public func cachedPlanManimVersions() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT manimVersion FROM plan_cache") }
    }

    public func removeCachedPlans(keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await pool.write { db in try CachedPlan.deleteAll(db, keys: keys) }
    }

    public func compact() async throws {
        // `secure_delete` (set on every connection) zeroes freed content in the pages written; the
        // checkpoint copies them into the database and empties the WAL, where the old pages were.
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}
