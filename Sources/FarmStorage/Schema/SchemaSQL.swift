/// Renders `FarmSchema`'s steps as SQL for one store.
enum SchemaSQL {
    enum Dialect: Sendable {
        case sqlite, postgres
    }

    /// The statements of one migration, in order.
    static func statements(_ migration: SchemaMigration, for dialect: Dialect) -> [String] {
        migration.steps.map { step in
            switch step {
            case .createTable(let table): createTable(table, dialect)
            case .createIndex(let index): createIndex(index, dialect)
            case .addColumn(let table, let column): "ALTER TABLE \(table) ADD COLUMN \(definition(column, primaryKey: false, dialect))"
            case .dropTable(let table): "DROP TABLE IF EXISTS \(table)"
            }
        }
    }

    /// A column's name in `dialect`.
    static func name(_ column: SchemaColumn, _ dialect: Dialect) -> String {
        switch dialect {
        case .sqlite: column.name
        case .postgres: column.postgresName ?? snakeCase(column.name)
        }
    }

    /// `videoID` → `video_id`, `scriptName` → `script_name`, `crc32` → `crc32`.
    static func snakeCase(_ name: String) -> String {
        var result = ""
        var previousWasLower = false
        for character in name {
            if character.isUppercase && previousWasLower { result.append("_") }
            result.append(contentsOf: character.lowercased())
            previousWasLower = character.isLowercase || character.isNumber
        }
        return result
    }

    private static func type(_ type: ColumnType, _ dialect: Dialect) -> String {
        switch (type, dialect) {
        case (.text, _): "TEXT"
        case (.integer, _): "INTEGER"
        case (.bigInteger, .sqlite): "INTEGER"
        case (.bigInteger, .postgres): "BIGINT"
        case (.boolean, _): "BOOLEAN"
        case (.double, .sqlite): "DOUBLE"
        case (.double, .postgres): "DOUBLE PRECISION"
        case (.json, .sqlite): "TEXT"
        case (.json, .postgres): "JSONB"
        case (.timestamp, .sqlite): "DATETIME"
        case (.timestamp, .postgres): "TIMESTAMPTZ"
        }
    }

    private static func definition(_ column: SchemaColumn, primaryKey: Bool, _ dialect: Dialect) -> String {
        var parts = [name(column, dialect), type(column.type, dialect)]
        if primaryKey { parts.append("PRIMARY KEY") }
        if !column.nullable { parts.append("NOT NULL") }
        if column.unique { parts.append("UNIQUE") }
        if let table = column.references { parts.append("REFERENCES \(table) (id) ON DELETE CASCADE") }
        if let json = column.defaultJSON { parts.append("DEFAULT '\(json.replacingOccurrences(of: "'", with: "''"))'") }
        return parts.joined(separator: " ")
    }

    private static func createTable(_ table: SchemaTable, _ dialect: Dialect) -> String {
        let names = Dictionary(uniqueKeysWithValues: table.columns.map { ($0.name, name($0, dialect)) })
        let single = table.primaryKey.count == 1 ? table.primaryKey[0] : nil
        var lines = table.columns.map { definition($0, primaryKey: $0.name == single, dialect) }
        if single == nil { lines.append("PRIMARY KEY (\(table.primaryKey.map { names[$0]! }.joined(separator: ", ")))") }
        for unique in table.unique { lines.append("UNIQUE (\(unique.map { names[$0]! }.joined(separator: ", ")))") }
        return "CREATE TABLE \(table.name) (\n    \(lines.joined(separator: ",\n    "))\n)"
    }

    private static func createIndex(_ index: SchemaIndex, _ dialect: Dialect) -> String {
        let columns = index.columns.map { column in
            let rendered = dialect == .sqlite ? column : snakeCase(column)
            return index.descending ? rendered + " DESC" : rendered
        }
        var sql = "CREATE INDEX \(index.name) ON \(index.table) (\(columns.joined(separator: ", ")))"
        if let state = index.whereState { sql += " WHERE state = '\(state)'" }
        return sql
    }
}
