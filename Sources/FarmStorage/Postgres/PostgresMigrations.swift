import FarmModel
/// The PostgreSQL schema's numbered migrations, rendered from `FarmSchema`
/// (the one schema source for both stores).
enum PostgresMigrations {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// Key of the advisory lock that serialises migrations across coordinators.
    static let lockKey: Int64 = 0x6D61_6E69_6D00_0001

    /// `FarmSchema`'s migrations rendered for PostgreSQL.
    static let all: [Migration] = FarmSchema.migrations.map { migration in
        Migration(version: migration.version, name: migration.name, statements: SchemaSQL.statements(migration, for: .postgres))
    }
}
