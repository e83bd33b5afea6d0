import FarmModel
import FarmProtocol
import Foundation
import PostgresNIO

/// Teams, users, keys and usage counters in PostgreSQL.
extension PostgresStore: AccountStore {
    public func hasUsers() async throws -> Bool {
        for try await count in try await client.query("SELECT count(*) FROM users", logger: logger).decode(Int.self) {
            return count > 0
        }
        return false
    }

    public func insert(_ team: TeamRecord) async throws {
        try await naming(team.name, """
            INSERT INTO teams (id, name, quotas, retention_days, created_at)
            VALUES (\(team.id), \(team.name), \(try Self.json(team.quotas))::jsonb, \(team.retentionDays), \(team.createdAt))
            """)
    }

    public func update(_ team: TeamRecord) async throws {
        try await naming(team.name, """
            UPDATE teams SET name = \(team.name), quotas = \(try Self.json(team.quotas))::jsonb,
                retention_days = \(team.retentionDays) WHERE id = \(team.id)
            """)
    }

    public func team(_ idOrName: String) async throws -> TeamRecord? {
        try await teams(where: "WHERE id = \(idOrName) OR name = \(idOrName) ORDER BY (id = \(idOrName)) DESC LIMIT 1").first
    }

    public func teams() async throws -> [TeamRecord] {
        try await teams(where: "ORDER BY name")
    }

    private func teams(where filter: PostgresQuery) async throws -> [TeamRecord] {
        var query: PostgresQuery = "SELECT id, name, quotas::text, retention_days, created_at FROM teams "
        query.sql += filter.sql
        query.binds = filter.binds
        var result: [TeamRecord] = []
        for try await (id, name, quotas, retention, createdAt) in try await client.query(query, logger: logger).decode(
            (String, String, String, Int?, Date).self) {
            result.append(TeamRecord(id: id, name: name, quotas: try Self.decodeJSON(quotas), retentionDays: retention, createdAt: createdAt))
        }
        return result
    }

    public func insert(_ user: UserRecord) async throws {
        try await naming(user.name, """
            INSERT INTO users (id, team_id, name, role, created_at, erased_at)
            VALUES (\(user.id), \(user.teamID), \(user.name), \(user.role.rawValue), \(user.createdAt), \(user.erasedAt))
            """)
    }

    public func update(_ user: UserRecord) async throws {
        try await naming(user.name, """
            UPDATE users SET team_id = \(user.teamID), name = \(user.name), role = \(user.role.rawValue),
                erased_at = \(user.erasedAt) WHERE id = \(user.id)
            """)
    }

    public func user(_ idOrName: String) async throws -> UserRecord? {
        try await users(where: "WHERE id = \(idOrName) OR name = \(idOrName) ORDER BY (id = \(idOrName)) DESC LIMIT 1").first
    }

    public func users(teamID: String?) async throws -> [UserRecord] {
        if let teamID { return try await users(where: "WHERE team_id = \(teamID) ORDER BY name") }
        return try await users(where: "ORDER BY name")
    }

    private func users(where filter: PostgresQuery) async throws -> [UserRecord] {
        var query: PostgresQuery = "SELECT id, team_id, name, role, created_at, erased_at FROM users "
        query.sql += filter.sql
        query.binds = filter.binds
        var result: [UserRecord] = []
        for try await (id, teamID, name, role, createdAt, erasedAt) in try await client.query(query, logger: logger).decode(
            (String, String, String, String, Date, Date?).self) {
            var user = UserRecord(id: id, teamID: teamID, name: name, role: try Self.enumValue(role), createdAt: createdAt)
            user.erasedAt = erasedAt
            result.append(user)
        }
        return result
    }

    public func insert(_ key: APIKeyRecord) async throws {
        try await client.query("""
            INSERT INTO api_keys (id, user_id, name, key_hash, created_at, expires_at, revoked_at, last_used_at)
            VALUES (\(key.id), \(key.userID), \(key.name), \(key.keyHash), \(key.createdAt), \(key.expiresAt),
                    \(key.revokedAt), \(key.lastUsedAt))
            """, logger: logger)
    }

    public func credentials(keyHash: String) async throws -> (APIKeyRecord, UserRecord, TeamRecord)? {
        guard let key = try await keys(where: "WHERE key_hash = \(keyHash)").first,
              let user = try await users(where: "WHERE id = \(key.userID)").first,
              let team = try await teams(where: "WHERE id = \(user.teamID)").first else { return nil }
        return (key, user, team)
    }

    public func keys(userID: String) async throws -> [APIKeyRecord] {
        try await keys(where: "WHERE user_id = \(userID) ORDER BY created_at, id")
    }

    public func key(id: String) async throws -> APIKeyRecord? {
        try await keys(where: "WHERE id = \(id)").first
    }

    private func keys(where filter: PostgresQuery) async throws -> [APIKeyRecord] {
        var query: PostgresQuery = """
            SELECT id, user_id, name, key_hash, created_at, expires_at, revoked_at, last_used_at FROM api_keys 
            """
        query.sql += filter.sql
        query.binds = filter.binds
        var result: [APIKeyRecord] = []
        for try await (id, userID, name, hash, createdAt, expiresAt, revokedAt, lastUsedAt) in try await client.query(
            query, logger: logger).decode((String, String, String, String, Date, Date?, Date?, Date?).self) {
            var key = APIKeyRecord(id: id, userID: userID, name: name, keyHash: hash, createdAt: createdAt, expiresAt: expiresAt)
            key.revokedAt = revokedAt
            key.lastUsedAt = lastUsedAt
            result.append(key)
        }
        return result
    }

    public func revokeKey(id: String, at: Date) async throws -> Bool {
        let rows = try await client.query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, \(at)) WHERE id = \(id) RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func touchKey(id: String, at: Date) async throws {
        try await client.query("UPDATE api_keys SET last_used_at = \(at) WHERE id = \(id)", logger: logger)
    }

    public func eraseKeys(userID: String, at: Date) async throws -> Int {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            var revoked = 0
            for try await _ in try await connection.query(
                "UPDATE api_keys SET revoked_at = \(at) WHERE user_id = \(userID) AND revoked_at IS NULL RETURNING id", logger: logger
            ).decode(String.self) { revoked += 1 }
            try await connection.query("UPDATE api_keys SET name = 'erased' WHERE user_id = \(userID)", logger: logger)
            return revoked
        }
    }

    public func addUsage(teamID: String, counter: String, windowStart: Int64, amount: Double, discardBefore: Int64?) async throws -> Double {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            if let discardBefore {
                try await connection.query("""
                    DELETE FROM usage_counters WHERE team_id = \(teamID) AND counter = \(counter) AND window_start < \(discardBefore)
                    """, logger: logger)
            }
            let rows = try await connection.query("""
                INSERT INTO usage_counters (team_id, counter, window_start, amount) VALUES (\(teamID), \(counter), \(windowStart), \(amount))
                ON CONFLICT (team_id, counter, window_start) DO UPDATE SET amount = usage_counters.amount + EXCLUDED.amount
                RETURNING amount
                """, logger: logger)
            for try await total in rows.decode(Double.self) { return total }
            return amount
        }
    }

    public func usage(teamID: String, counter: String, windowStart: Int64) async throws -> Double {
        let rows = try await client.query("""
            SELECT amount FROM usage_counters WHERE team_id = \(teamID) AND counter = \(counter) AND window_start = \(windowStart)
            """, logger: logger)
        for try await amount in rows.decode(Double.self) { return amount }
        return 0
    }

    public func videoSummaries(teamID: String?, after: String?, limit: Int) async throws -> [VideoSummary] {
        var query: PostgresQuery = """
            SELECT id, state, script_name, settings::text, options::text, team_id, created_at, updated_at, error, frames, seconds
            FROM videos WHERE (\(teamID)::text IS NULL OR team_id = \(teamID))
              AND (\(after)::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM videos WHERE id = \(after)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """
        query.sql = query.sql.trimmingCharacters(in: .whitespacesAndNewlines)
        var result: [VideoSummary] = []
        for try await (id, state, scriptName, settings, options, team, createdAt, updatedAt, error, frames, seconds) in try await client.query(
            query, logger: logger).decode((String, String, String, String, String, String?, Date, Date, String?, Int?, Double?).self) {
            let settings: RenderSettings = try Self.decodeJSON(settings)
            let options: VideoOptions = try Self.decodeJSON(options)
            result.append(VideoSummary(
                id: id, state: try Self.enumValue(state), scriptName: scriptName, quality: settings.quality, priority: options.priority,
                submitter: options.submitter, teamID: team, createdAt: createdAt, updatedAt: updatedAt, error: error,
                frames: frames, seconds: seconds))
        }
        return result
    }

    /// Runs `query`, turning a uniqueness violation into `AccountStoreError.nameTaken(name)`.
    private func naming(_ name: String, _ query: PostgresQuery) async throws {
        do {
            try await client.query(query, logger: logger)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AccountStoreError.nameTaken(name)
        }
    }
}
