import FarmModel
import Foundation
import PostgresNIO

/// A burst of store changes folded into a few statements: every task row and every
/// attempt row of the burst is written by one multi-row upsert (`jsonb_to_recordset`),
/// so a dispatch round of hundreds of assignments costs a handful of round trips, not
/// two per assignment. Each change is a whole record, so the last one per key wins,
/// exactly as applying them one by one would.
struct PostgresBatch {
    private var tasks: [String: TaskRecord] = [:]
    private var taskOrder: [String] = []
    private var attempts: [AttemptKey: AttemptRecord] = [:]
    private var attemptOrder: [AttemptKey] = []
    /// Rare changes (videos, agents, the caches) keep their own statements, in order.
    private(set) var others: [PostgresQuery] = []

    private struct AttemptKey: Hashable {
        var taskID: String
        var attempt: Int
    }

    init(_ changes: [StoreChange]) throws {
        for change in changes {
            switch change {
            case .video(let video): others.append(PostgresStore.updateVideo(video))
            case .task(let task): add(task)
            case .attempt(let task, let attempt):
                add(task)
                add(attempt)
            case .agent(let agent): others.append(PostgresStore.upsertAgent(agent))
            case .planned(let plan, let attempt, let renders):
                add(plan)
                add(attempt)
                for task in renders { add(task) }
            case .cachedRender(let render): others.append(try PostgresStore.upsertCachedRender(render))
            case .cachedPlan(let plan): others.append(try PostgresStore.upsertCachedPlan(plan))
            case .uncachedRender(let contentHash): others.append("DELETE FROM render_cache WHERE content_hash = \(contentHash)")
            }
        }
    }

    private mutating func add(_ task: TaskRecord) {
        if tasks.updateValue(task, forKey: task.id) == nil { taskOrder.append(task.id) }
    }

    private mutating func add(_ attempt: AttemptRecord) {
        let key = AttemptKey(taskID: attempt.taskID, attempt: attempt.attempt)
        if attempts.updateValue(attempt, forKey: key) == nil { attemptOrder.append(key) }
    }

    /// The upsert of every task row, or `nil` if the burst has none.
    func taskStatement() throws -> PostgresQuery? {
        guard !taskOrder.isEmpty else { return nil }
        let rows = try taskOrder.map { id -> TaskRow in try TaskRow(tasks[id]!) }
        let document = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        return """
            INSERT INTO tasks (id, video_id, ordinal, scene, requires_latex, state, attempt, failures, agent_id,
                               frames_done, error, result, updated_at, work)
            SELECT id, video_id, ordinal, scene, requires_latex, state, attempt, failures, agent_id, frames_done,
                   error, result, to_timestamp(updated_at), work
            FROM jsonb_to_recordset(\(document)::jsonb) AS t(
                id text, video_id text, ordinal int, scene text, requires_latex bool, state text, attempt int,
                failures int, agent_id text, frames_done int, error jsonb, result jsonb, updated_at float8, work jsonb)
            \(unescaped: PostgresStore.replaceTask)
            """
    }

    /// The upsert of every attempt row, or `nil` if the burst has none.
    func attemptStatement() throws -> PostgresQuery? {
        guard !attemptOrder.isEmpty else { return nil }
        let rows = attemptOrder.map { AttemptRow(attempts[$0]!) }
        let document = String(decoding: try JSONEncoder().encode(rows), as: UTF8.self)
        return """
            INSERT INTO attempts (task_id, attempt, agent_id, started_at, ended_at, outcome, log_tail)
            SELECT task_id, attempt, agent_id, to_timestamp(started_at), to_timestamp(ended_at), outcome, log_tail
            FROM jsonb_to_recordset(\(document)::jsonb) AS a(
                task_id text, attempt int, agent_id text, started_at float8, ended_at float8, outcome text, log_tail text)
            ON CONFLICT (task_id, attempt) DO UPDATE SET agent_id = EXCLUDED.agent_id,
                started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, outcome = EXCLUDED.outcome,
                log_tail = EXCLUDED.log_tail
            """
    }
}

/// A task as one element of the batch document: JSON columns as nested JSON (as the
/// single-row statements store them), times as seconds since 1970 (microsecond precision).
private struct TaskRow: Encodable {
    var id, video_id, scene, state: String
    var ordinal, attempt, failures, frames_done: Int
    var requires_latex: Bool
    var agent_id: String?
    var error, result: JSONFragment?
    var work: JSONFragment
    var updated_at: Double

    init(_ task: TaskRecord) throws {
        id = task.id
        video_id = task.videoID
        scene = task.scene
        state = task.state.rawValue
        ordinal = task.ordinal
        attempt = task.attempt
        failures = task.failures
        frames_done = task.framesDone
        requires_latex = task.requiresLaTeX
        agent_id = task.agentID
        error = try task.error.map(JSONFragment.init)
        result = try task.result.map(JSONFragment.init)
        work = try JSONFragment(task.work)
        updated_at = task.updatedAt.timeIntervalSince1970
    }
}

private struct AttemptRow: Encodable {
    var task_id, agent_id: String
    var attempt: Int
    var started_at: Double
    var ended_at: Double?
    var outcome, log_tail: String?

    init(_ attempt: AttemptRecord) {
        task_id = attempt.taskID
        agent_id = attempt.agentID
        self.attempt = attempt.attempt
        started_at = attempt.startedAt.timeIntervalSince1970
        ended_at = attempt.endedAt?.timeIntervalSince1970
        outcome = attempt.outcome
        log_tail = attempt.logTail
    }
}

/// A value encoded exactly as `PostgresStore.json` encodes it, embedded as a JSON object.
private struct JSONFragment: Encodable {
    let value: any Encodable

    init(_ value: some Encodable) throws {
        self.value = value
    }

    func encode(to encoder: any Encoder) throws {
        try value.encode(to: encoder)
    }
}
