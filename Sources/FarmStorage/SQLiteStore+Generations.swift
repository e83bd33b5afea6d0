import FarmModel
import Foundation
import GRDB

extension SQLiteStore: GenerationStore {
    public func saveGeneration(_ generation: GenerationRecord) async throws {
        let json = try generation.storedJSON()
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO generations (id, teamID, userID, state, cacheKey, record, createdAt) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET state = excluded.state, cacheKey = excluded.cacheKey, record = excluded.record
                WHERE generations.state NOT IN (\(GenerationRecord.finalStates))
                """, arguments: [generation.id, generation.teamID, generation.userID, generation.state.rawValue,
                                 generation.cacheKey, json, generation.createdAt])
        }
    }

    public func generation(id: String) async throws -> GenerationRecord? {
        try await records("SELECT record FROM generations WHERE id = ?", [id]).first
    }

    public func generations(userID: String?, limit: Int) async throws -> [GenerationRecord] {
        if let userID {
            return try await records("SELECT record FROM generations WHERE userID = ? ORDER BY createdAt DESC LIMIT ?", [userID, limit])
        }
        return try await records("SELECT record FROM generations ORDER BY createdAt DESC LIMIT ?", [limit])
    }

    public func unfinishedGenerations() async throws -> [GenerationRecord] {
        try await records("SELECT record FROM generations WHERE state NOT IN (\(GenerationRecord.finalStates)) ORDER BY createdAt", [])
    }

    public func generation(cacheKey: String) async throws -> GenerationRecord? {
        try await records("SELECT record FROM generations WHERE cacheKey = ? ORDER BY createdAt DESC LIMIT 1", [cacheKey]).first
    }

    public func deleteGenerations(userID: String) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM generations WHERE userID = ?", arguments: [userID])
            return db.changesCount
        }
    }

    private func records(_ sql: String, _ arguments: StatementArguments) async throws -> [GenerationRecord] {
        let rows = try await pool.read { db in try String.fetchAll(db, sql: sql, arguments: arguments) }
        return try rows.map(GenerationRecord.fromStored)
    }
}
