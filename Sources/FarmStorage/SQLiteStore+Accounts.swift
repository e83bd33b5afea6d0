import FarmModel
import FarmProtocol
import Foundation
import GRDB

extension TeamRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "teams"
}

extension UserRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "users"
}

extension APIKeyRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "api_keys"
}

extension SQLiteStore: AccountStore {
    public func hasUsers() async throws -> Bool {
        try await pool.read { db in try UserRecord.fetchCount(db) > 0 }
    }

    public func insert(_ team: TeamRecord) async throws {
        try await Self.naming(team.name) { try await pool.write { db in try team.insert(db) } }
    }

    public func update(_ team: TeamRecord) async throws {
        try await Self.naming(team.name) { try await pool.write { db in try team.update(db) } }
    }

    public func team(_ idOrName: String) async throws -> TeamRecord? {
        try await pool.read { db in
            try TeamRecord.fetchOne(db, key: idOrName) ?? TeamRecord.filter(Column("name") == idOrName).fetchOne(db)
        }
    }

    public func teams() async throws -> [TeamRecord] {
        try await pool.read { db in try TeamRecord.order(Column("name")).fetchAll(db) }
    }

    public func insert(_ user: UserRecord) async throws {
        try await Self.naming(user.name) { try await pool.write { db in try user.insert(db) } }
    }

    public func update(_ user: UserRecord) async throws {
        try await Self.naming(user.name) { try await pool.write { db in try user.update(db) } }
    }

    public func user(_ idOrName: String) async throws -> UserRecord? {
        try await pool.read { db in
            try UserRecord.fetchOne(db, key: idOrName) ?? UserRecord.filter(Column("name") == idOrName).fetchOne(db)
        }
    }

    public func users(teamID: String?) async throws -> [UserRecord] {
        try await pool.read { db in
            var request = UserRecord.order(Column("name"))
            if let teamID { request = request.filter(Column("teamID") == teamID) }
            return try request.fetchAll(db)
        }
    }

    public func insert(_ key: APIKeyRecord) async throws {
        try await pool.write { db in try key.insert(db) }
    }

    public func credentials(keyHash: String) async throws -> (APIKeyRecord, UserRecord, TeamRecord)? {
        try await pool.read { db in
            guard let key = try APIKeyRecord.filter(Column("keyHash") == keyHash).fetchOne(db),
                  let user = try UserRecord.fetchOne(db, key: key.userID),
                  let team = try TeamRecord.fetchOne(db, key: user.teamID) else { return nil }
            return (key, user, team)
        }
    }

    public func keys(userID: String) async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try APIKeyRecord.filter(Column("userID") == userID).order(Column("createdAt"), Column("id")).fetchAll(db)
        }
    }

    public func key(id: String) async throws -> APIKeyRecord? {
        try await pool.read { db in try APIKeyRecord.fetchOne(db, key: id) }
    }

    public func revokeKey(id: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            guard var key = try APIKeyRecord.fetchOne(db, key: id) else { return false }
            if key.revokedAt == nil {
                key.revokedAt = at
                try key.update(db)
            }
            return true
        }
    }

    public func touchKey(id: String, at: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET lastUsedAt = ? WHERE id = ?", arguments: [at, id])
        }
    }

    public func eraseKeys(userID: String, at: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET revokedAt = ? WHERE userID = ? AND revokedAt IS NULL", arguments: [at, userID])
            let revoked = db.changesCount
            try db.execute(sql: "UPDATE api_keys SET name = 'erased' WHERE userID = ?", arguments: [userID])
            return revoked
        }
    }

    public func addUsage(teamID: String, counter: String, windowStart: Int64, amount: Double, discardBefore: Int64?) async throws -> Double {
        try await pool.write { db in
            if let discardBefore {
                try db.execute(sql: "DELETE FROM usage_counters WHERE teamID = ? AND counter = ? AND windowStart < ?",
                               arguments: [teamID, counter, discardBefore])
            }
            return try Double.fetchOne(db, sql: """
                INSERT INTO usage_counters (teamID, counter, windowStart, amount) VALUES (?, ?, ?, ?)
                ON CONFLICT (teamID, counter, windowStart) DO UPDATE SET amount = amount + excluded.amount
                RETURNING amount
                """, arguments: [teamID, counter, windowStart, amount]) ?? amount
        }
    }

    public func usage(teamID: String, counter: String, windowStart: Int64) async throws -> Double {
        try await pool.read { db in
            try Double.fetchOne(db, sql: "SELECT amount FROM usage_counters WHERE teamID = ? AND counter = ? AND windowStart = ?",
                                arguments: [teamID, counter, windowStart]) ?? 0
        }
    }

    public func videoSummaries(teamID: String?, after: String?, limit: Int) async throws -> [VideoSummary] {
        try await pool.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let teamID {
                conditions.append("teamID = ?")
                _ = arguments.append(contentsOf: [teamID])
            }
            if let after {
                conditions.append("(createdAt, id) < (SELECT createdAt, id FROM videos WHERE id = ?)")
                _ = arguments.append(contentsOf: [after])
            }
            _ = arguments.append(contentsOf: [limit])
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            let rows = try Row.fetchAll(db, sql: """
                SELECT id, state, scriptName, settings, options, teamID, createdAt, updatedAt, error, frames, seconds
                FROM videos \(filter) ORDER BY createdAt DESC, id DESC LIMIT ?
                """, arguments: arguments)
            return try rows.map { row in
                let settings = try JSONDecoder().decode(RenderSettings.self, from: Data((row["settings"] as String).utf8))
                let options = try JSONDecoder().decode(VideoOptions.self, from: Data((row["options"] as String).utf8))
                return VideoSummary(
                    id: row["id"], state: VideoState(rawValue: row["state"]) ?? .failed, scriptName: row["scriptName"],
                    quality: settings.quality, priority: options.priority, submitter: options.submitter, teamID: row["teamID"],
                    createdAt: row["createdAt"], updatedAt: row["updatedAt"], error: row["error"], frames: row["frames"],
                    seconds: row["seconds"])
            }
        }
    }

    /// Runs `body`, turning a uniqueness violation into `AccountStoreError.nameTaken(name)`.
    private static func naming(_ name: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT
                    && error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw AccountStoreError.nameTaken(name)
        }
    }
}
