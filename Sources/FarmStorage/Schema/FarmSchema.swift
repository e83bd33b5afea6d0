import FarmModel

/// The coordinator's schema, once, for both stores: numbered migrations of
/// dialect-neutral steps that `SchemaSQL` renders for SQLite and PostgreSQL.
/// Never edit an applied migration; add a new one. Columns are named as the
/// records name them (SQLite's names); PostgreSQL's are their snake_case.
enum FarmSchema {
    static let migrations: [SchemaMigration] = [
        SchemaMigration(version: 1, name: "initial", steps: [
            .createTable(SchemaTable(name: "videos", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("state", .text),
                .init("scriptName", .text),
                .init("script", .text),
                .init("settings", .json),
                .init("encoding", .json),
                .init("idempotencyKey", .text, nullable: true, unique: true),
                .init("error", .text, nullable: true),
                .init("createdAt", .timestamp),
                .init("updatedAt", .timestamp),
                .init("frames", .integer, nullable: true),
                .init("seconds", .double, nullable: true),
            ])),
            .createIndex(SchemaIndex(name: "videos_by_state", table: "videos", columns: ["state", "createdAt"])),
            .createIndex(SchemaIndex(name: "videos_by_age", table: "videos", columns: ["createdAt"], descending: true)),
            .createTable(SchemaTable(name: "tasks", primaryKey: ["id"], unique: [["videoID", "ordinal"]], columns: [
                .init("id", .text),
                .init("videoID", .text, references: "videos"),
                .init("ordinal", .integer),
                .init("scene", .text),
                .init("requiresLaTeX", .boolean, postgresName: "requires_latex"),
                .init("state", .text),
                .init("attempt", .integer),
                .init("failures", .integer),
                .init("agentID", .text, nullable: true),
                .init("framesDone", .integer),
                .init("error", .json, nullable: true),
                .init("result", .json, nullable: true),
                .init("updatedAt", .timestamp),
            ])),
            .createIndex(SchemaIndex(name: "tasks_by_state", table: "tasks", columns: ["state", "videoID"])),
            .createIndex(SchemaIndex(name: "tasks_by_agent", table: "tasks", columns: ["agentID"], whereState: "running")),
            .createTable(SchemaTable(name: "attempts", primaryKey: ["taskID", "attempt"], columns: [
                .init("taskID", .text, references: "tasks"),
                .init("attempt", .integer),
                .init("agentID", .text),
                .init("startedAt", .timestamp),
                .init("endedAt", .timestamp, nullable: true),
                .init("outcome", .text, nullable: true),
                .init("logTail", .text, nullable: true),
            ])),
            .createTable(SchemaTable(name: "agents", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("hostname", .text),
                .init("slots", .integer),
                .init("cores", .integer),
                .init("memoryBytes", .bigInteger),
                .init("manimVersion", .text),
                .init("hasLaTeX", .boolean, postgresName: "has_latex"),
                .init("lastSeen", .timestamp),
            ])),
        ]),
        SchemaMigration(version: 2, name: "artifacts-cache-access", steps: [
            .createTable(SchemaTable(name: "artifacts", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("videoID", .text, references: "videos"),
                .init("taskID", .text, nullable: true, references: "tasks"),
                .init("kind", .text),
                .init("path", .text),
                .init("bytes", .bigInteger),
                .init("crc32", .bigInteger),
                .init("createdAt", .timestamp),
            ])),
            .createIndex(SchemaIndex(name: "artifacts_by_video", table: "artifacts", columns: ["videoID"])),
            .createTable(SchemaTable(name: "render_cache", primaryKey: ["contentHash"], columns: [
                .init("contentHash", .text),
                .init("result", .json),
                .init("artifactPath", .text),
                .init("createdAt", .timestamp),
                .init("lastUsedAt", .timestamp),
            ])),
            .createTable(SchemaTable(name: "users", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("name", .text),
                .init("createdAt", .timestamp),
            ])),
            .createTable(SchemaTable(name: "api_keys", primaryKey: ["keyHash"], columns: [
                .init("keyHash", .text),
                .init("userID", .text, references: "users"),
                .init("createdAt", .timestamp),
                .init("revokedAt", .timestamp, nullable: true),
            ])),
        ]),
        SchemaMigration(version: 3, name: "planning-scheduling", steps: [
            .addColumn(table: "videos", .init("options", .json, defaultJSON: VideoOptions.legacyJSON)),
            .addColumn(table: "tasks", .init("work", .json, defaultJSON: TaskWork.legacyJSON)),
        ]),
        SchemaMigration(version: 4, name: "plan-cache", steps: [
            .createTable(SchemaTable(name: "plan_cache", primaryKey: ["planKey"], columns: [
                .init("planKey", .text),
                .init("scenes", .json),
                .init("manimVersion", .text),
                .init("createdAt", .timestamp),
            ])),
        ]),
        // Migration 2's users and api_keys were never written to; accounts replace them.
        SchemaMigration(version: 5, name: "accounts", steps: [
            .dropTable("api_keys"),
            .dropTable("users"),
            .createTable(SchemaTable(name: "teams", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("name", .text, unique: true),
                .init("quotas", .json),
                .init("retentionDays", .integer, nullable: true),
                .init("createdAt", .timestamp),
            ])),
            .createTable(SchemaTable(name: "users", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("teamID", .text, references: "teams"),
                .init("name", .text, unique: true),
                .init("role", .text),
                .init("createdAt", .timestamp),
                .init("erasedAt", .timestamp, nullable: true),
            ])),
            .createTable(SchemaTable(name: "api_keys", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("userID", .text, references: "users"),
                .init("name", .text),
                .init("keyHash", .text, unique: true),
                .init("createdAt", .timestamp),
                .init("expiresAt", .timestamp, nullable: true),
                .init("revokedAt", .timestamp, nullable: true),
                .init("lastUsedAt", .timestamp, nullable: true),
            ])),
            // Per-team counters in fixed windows (submissions per minute, render-seconds per day):
            // durable, so a restart or a failover to another coordinator keeps counting.
            .createTable(SchemaTable(name: "usage_counters", primaryKey: ["teamID", "counter", "windowStart"], columns: [
                .init("teamID", .text, references: "teams"),
                .init("counter", .text),
                .init("windowStart", .bigInteger),
                .init("amount", .double),
            ])),
            .addColumn(table: "videos", .init("teamID", .text, nullable: true)),
            .addColumn(table: "videos", .init("userID", .text, nullable: true)),
            // When the team's retention policy deleted the video's outputs and logs.
            .addColumn(table: "videos", .init("expiredAt", .timestamp, nullable: true)),
            .createIndex(SchemaIndex(name: "videos_by_team", table: "videos", columns: ["teamID", "createdAt", "id"], descending: true)),
            .createIndex(SchemaIndex(name: "videos_by_user", table: "videos", columns: ["userID"])),
        ]),
        // Scripts written by a language model: each job's rounds live in `record` (JSON, read whole);
        // the columns are what the coordinator looks generations up by.
        SchemaMigration(version: 6, name: "generations", steps: [
            .createTable(SchemaTable(name: "generations", primaryKey: ["id"], columns: [
                .init("id", .text),
                .init("teamID", .text, nullable: true),
                .init("userID", .text, nullable: true),
                .init("state", .text),
                .init("cacheKey", .text, nullable: true),
                .init("record", .json),
                .init("createdAt", .timestamp),
            ])),
            .createIndex(SchemaIndex(name: "generations_by_user", table: "generations", columns: ["userID", "createdAt"], descending: true)),
            .createIndex(SchemaIndex(name: "generations_by_cache_key", table: "generations", columns: ["cacheKey", "createdAt"], descending: true)),
            .createIndex(SchemaIndex(name: "generations_by_state", table: "generations", columns: ["state"])),
        ]),
    ]
}

/// One numbered migration.
struct SchemaMigration: Sendable {
    var version: Int
    var name: String
    var steps: [SchemaStep]
}

enum SchemaStep: Sendable {
    case createTable(SchemaTable)
    case createIndex(SchemaIndex)
    case addColumn(table: String, SchemaColumn)
    case dropTable(String)
}

/// What a column holds, whatever the dialect calls it.
enum ColumnType: Sendable {
    case text, integer, bigInteger, boolean, double, json, timestamp
}

struct SchemaColumn: Sendable {
    var name: String
    var type: ColumnType
    var nullable: Bool
    var unique: Bool
    /// The table whose `id` this column refers to (rows go when it goes).
    var references: String?
    /// A JSON default, for a column added to a table that has rows.
    var defaultJSON: String?
    /// PostgreSQL's name when it is not the snake_case of `name` (acronyms like LaTeX).
    var postgresName: String?

    init(_ name: String, _ type: ColumnType, nullable: Bool = false, unique: Bool = false, references: String? = nil,
         defaultJSON: String? = nil, postgresName: String? = nil) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.unique = unique
        self.references = references
        self.defaultJSON = defaultJSON
        self.postgresName = postgresName
    }
}

struct SchemaTable: Sendable {
    var name: String
    var primaryKey: [String]
    var unique: [[String]] = []
    var columns: [SchemaColumn]
}

struct SchemaIndex: Sendable {
    var name: String
    var table: String
    var columns: [String]
    var descending = false
    /// A partial index over rows in this task state.
    var whereState: String?
}
