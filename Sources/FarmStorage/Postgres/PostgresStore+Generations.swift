import FarmModel
import Foundation
import PostgresNIO

/// Generation jobs in PostgreSQL: the record whole as JSONB, beside the columns it is looked up by.
extension PostgresStore: GenerationStore {
    public func saveGeneration(_ generation: GenerationRecord) async throws {
        try await client.query("""
            INSERT INTO generations (id, team_id, user_id, state, cache_key, record, created_at)
            VALUES (\(generation.id), \(generation.teamID), \(generation.userID), \(generation.state.rawValue),
                    \(generation.cacheKey), \(try generation.storedJSON())::jsonb, \(generation.createdAt))
            ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, cache_key = EXCLUDED.cache_key, record = EXCLUDED.record
            WHERE NOT (generations.state = ANY(\(GenerationState.allCases.filter(\.isFinal).map(\.rawValue))))
            """, logger: logger)
    }

    public func generation(id: String) async throws -> GenerationRecord? {
        try await generations(where: "WHERE id = \(id)").first
    }

    public func generations(userID: String?, limit: Int) async throws -> [GenerationRecord] {
        if let userID {
            return try await generations(where: "WHERE user_id = \(userID) ORDER BY created_at DESC LIMIT \(limit)")
        }
        return try await generations(where: "ORDER BY created_at DESC LIMIT \(limit)")
    }

    public func unfinishedGenerations() async throws -> [GenerationRecord] {
        let finals = GenerationState.allCases.filter(\.isFinal).map(\.rawValue)
        return try await generations(where: "WHERE NOT (state = ANY(\(finals))) ORDER BY created_at")
    }

    public func generation(cacheKey: String) async throws -> GenerationRecord? {
        try await generations(where: "WHERE cache_key = \(cacheKey) ORDER BY created_at DESC LIMIT 1").first
    }

    public func deleteGenerations(userID: String) async throws -> Int {
        var removed = 0
        for try await _ in try await client.query("DELETE FROM generations WHERE user_id = \(userID) RETURNING id",
                                                  logger: logger).decode(String.self) { removed += 1 }
        return removed
    }

    private func generations(where filter: PostgresQuery) async throws -> [GenerationRecord] {
        var query = PostgresQuery(unsafeSQL: "SELECT record::text FROM generations ")
        query.sql += filter.sql
        query.binds = filter.binds
        var result: [GenerationRecord] = []
        for try await json in try await client.query(query, logger: logger).decode(String.self) {
            result.append(try GenerationRecord.fromStored(json))
        }
        return result
    }
}
