import FarmModel
/// The PostgreSQL schema, as numbered migrations. Never edit an applied
/// migration; add a new one.
enum PostgresMigrations {
    struct Migration {
        var version: Int
        var name: String
        var statements: [String]
    }

    /// Key of the advisory lock that serialises migrations across coordinators.
    static let lockKey: Int64 = 0x6D61_6E69_6D00_0001

    static let all: [Migration] = [
        Migration(version: 1, name: "initial", statements: [
            """
            CREATE TABLE videos (
                id TEXT PRIMARY KEY,
                state TEXT NOT NULL,
                script_name TEXT NOT NULL,
                script TEXT NOT NULL,
                settings JSONB NOT NULL,
                encoding JSONB NOT NULL,
                idempotency_key TEXT UNIQUE,
                error TEXT,
                created_at TIMESTAMPTZ NOT NULL,
                updated_at TIMESTAMPTZ NOT NULL,
                frames INTEGER,
                seconds DOUBLE PRECISION
            )
            """,
            "CREATE INDEX videos_by_state ON videos (state, created_at)",
            "CREATE INDEX videos_by_age ON videos (created_at DESC)",
            """
            CREATE TABLE tasks (
                id TEXT PRIMARY KEY,
                video_id TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
                ordinal INTEGER NOT NULL,
                scene TEXT NOT NULL,
                requires_latex BOOLEAN NOT NULL,
                state TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                failures INTEGER NOT NULL,
                agent_id TEXT,
                frames_done INTEGER NOT NULL,
                error JSONB,
                result JSONB,
                updated_at TIMESTAMPTZ NOT NULL,
                UNIQUE (video_id, ordinal)
            )
            """,
            "CREATE INDEX tasks_runnable ON tasks (state, updated_at) WHERE state = 'pending'",
            "CREATE INDEX tasks_by_agent ON tasks (agent_id) WHERE state = 'running'",
            """
            CREATE TABLE attempts (
                task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
                attempt INTEGER NOT NULL,
                agent_id TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                ended_at TIMESTAMPTZ,
                outcome TEXT,
                log_tail TEXT,
                PRIMARY KEY (task_id, attempt)
            )
            """,
            """
            CREATE TABLE agents (
                id TEXT PRIMARY KEY,
                hostname TEXT NOT NULL,
                slots INTEGER NOT NULL,
                cores INTEGER NOT NULL,
                memory_bytes BIGINT NOT NULL,
                manim_version TEXT NOT NULL,
                has_latex BOOLEAN NOT NULL,
                last_seen TIMESTAMPTZ NOT NULL
            )
            """,
        ]),
        Migration(version: 2, name: "artifacts-cache-access", statements: [
            """
            CREATE TABLE artifacts (
                id TEXT PRIMARY KEY,
                video_id TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
                task_id TEXT REFERENCES tasks (id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                path TEXT NOT NULL,
                bytes BIGINT NOT NULL,
                crc32 BIGINT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE INDEX artifacts_by_video ON artifacts (video_id)",
            """
            CREATE TABLE render_cache (
                content_hash TEXT PRIMARY KEY,
                result JSONB NOT NULL,
                artifact_path TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                last_used_at TIMESTAMPTZ NOT NULL
            )
            """,
            "CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)",
            """
            CREATE TABLE api_keys (
                key_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                created_at TIMESTAMPTZ NOT NULL,
                revoked_at TIMESTAMPTZ
            )
            """,
        ]),
        Migration(version: 3, name: "planning-scheduling", statements: [
            "ALTER TABLE videos ADD COLUMN options JSONB NOT NULL DEFAULT '\(VideoOptions.legacyJSON)'",
            "ALTER TABLE tasks ADD COLUMN work JSONB NOT NULL DEFAULT '\(TaskWork.legacyJSON)'",
        ]),
        Migration(version: 4, name: "plan-cache", statements: [
            """
            CREATE TABLE plan_cache (
                plan_key TEXT PRIMARY KEY,
                scenes JSONB NOT NULL,
                manim_version TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )
            """,
        ]),
    ]
}
