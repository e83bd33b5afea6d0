import FarmStorage
import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

/// Both stores' schemas are rendered from one source (`FarmSchema`); this checks the
/// result: every table and column of one exists in the other with the same nullability
/// (names compared without case or underscores).
@Suite struct SchemaParityTests {
    static func normalized(_ name: String) -> String {
        name.lowercased().replacingOccurrences(of: "_", with: "")
    }

    static let bookkeeping: Set<String> = ["grdbmigrations", "farmmigrations", "sqlitesequence"]

    @Test func bothStoresHaveTheSameTablesAndColumns() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("farm-schema-\(UUID().uuidString).sqlite").path
        try await SQLiteStore(path: path).migrate()
        let sqlite: [String: Set<String>] = try await DatabaseQueue(path: path).read { db in
            var tables: [String: Set<String>] = [:]
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'") {
                let columns = try Row.fetchAll(db, sql: "PRAGMA table_info(\(table.quotedDatabaseIdentifier))").map { row in
                    Self.normalized(row["name"] as String) + ((row["notnull"] as Int) == 1 ? "" : "?")
                }
                tables[Self.normalized(table)] = Set(columns)
            }
            return tables
        }
        try? FileManager.default.removeItem(atPath: path)

        let store = try PostgresStore.running(url: try await TestPostgres.freshDatabase(), logger: Logger(label: "test.schema"))
        try await store.migrate()
        var postgres: [String: Set<String>] = [:]
        for (table, column, nullable) in try await store.columns() {
            postgres[Self.normalized(table), default: []].insert(Self.normalized(column) + (nullable ? "?" : ""))
        }
        let sqliteTables = Set(sqlite.keys).subtracting(Self.bookkeeping)
        let postgresTables = Set(postgres.keys).subtracting(Self.bookkeeping)
        #expect(sqliteTables.count >= 6, "\(sqliteTables)")
        #expect(sqliteTables == postgresTables, "only in SQLite: \(sqliteTables.subtracting(postgresTables)); only in PostgreSQL: \(postgresTables.subtracting(sqliteTables))")
        for table in sqliteTables.intersection(postgresTables) {
            let (a, b) = (sqlite[table] ?? [], postgres[table] ?? [])
            #expect(a == b, "\(table): only in SQLite \(a.subtracting(b).sorted()), only in PostgreSQL \(b.subtracting(a).sorted())")
        }
    }
}
