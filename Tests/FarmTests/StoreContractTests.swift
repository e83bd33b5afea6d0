import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Logging
import PostgresNIO
import Testing

/// The stores the coordinator can run on. Every contract test runs against each.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// A fresh, empty, migrated store.
    func make() async throws -> any FarmStore {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("farm-store-\(UUID().uuidString).sqlite").path
            let store = try SQLiteStore(path: path)
            try await store.migrate()
            return store
        case .postgres:
            let store = try PostgresStore.running(url: try await TestPostgres.freshDatabase(), logger: Logger(label: "test.postgres"))
            try await store.migrate()
            return store
        }
    }
}

extension PostgresStore {
    /// A store whose connection pool runs for the rest of the test process (a coordinator runs it in its service group).
    static func running(url: String, logger: Logger) throws -> PostgresStore {
        let store = try PostgresStore(url: url, logger: logger)
        Task { await store.run() }
        return store
    }
}

/// The PostgreSQL server `make test` starts (`scripts/test-postgres.sh`).
enum TestPostgres {
    static var url: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["FARM_TEST_POSTGRES_URL"] else {
                throw HarnessError("FARM_TEST_POSTGRES_URL is not set: run `make test`, which starts a test PostgreSQL server")
            }
            return url
        }
    }

    /// Creates an empty database and returns its URL.
    static func freshDatabase() async throws -> String {
        let name = "farm_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try run("psql", [try url, "-q", "-c", "CREATE DATABASE \(name)"])
        var components = URLComponents(string: try url)!
        components.path = "/\(name)"
        return components.string!
    }
}

@Suite struct StoreContractTests {
    static func video(_ id: String, key: String? = nil, createdAt: Date = Date()) -> (VideoRecord, [TaskRecord]) {
        let video = VideoRecord(id: id, state: .queued, scriptName: "s.py", script: "from manim import *  # ünïcode ✓",
                                settings: RenderSettings(quality: .medium, seed: 3),
                                encoding: EncodingPlan(renditions: Rendition.defaultLadder(forRenderHeight: 720)),
                                idempotencyKey: key, createdAt: createdAt)
        let tasks = (0..<3).map {
            TaskRecord(id: "\(id)-\($0)", videoID: id, ordinal: $0, scene: "Scene\($0)", requiresLaTeX: $0 == 1, createdAt: createdAt)
        }
        return (video, tasks)
    }

    @Test(arguments: StoreKind.allCases)
    func aVideoAndItsTasksComeBackAsStored(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let (video, tasks) = Self.video("v1")
        #expect(try await store.insert(video, tasks: tasks).id == "v1")
        let loaded = try #require(try await store.video(id: "v1"))
        #expect(loaded.script == video.script)
        #expect(loaded.settings == video.settings)
        #expect(loaded.encoding == video.encoding)
        #expect(abs(loaded.createdAt.timeIntervalSince(video.createdAt)) < 0.001)
        #expect(try await store.tasks(videoID: "v1").map(\.scene) == ["Scene0", "Scene1", "Scene2"])
        #expect(try await store.tasks(videoID: "v1").map(\.requiresLaTeX) == [false, true, false])
        #expect(try await store.video(id: "missing") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func aPlanEndsAndItsRenderTasksAppearInOneCommit(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var (video, _) = Self.video("vp")
        video.options = VideoOptions(priority: 2, submitter: "ann", scenes: [SceneSpec(name: "Long", requiresLaTeX: false, fingerprint: "f")])
        var plan = TaskRecord(id: "vp-plan", videoID: "vp", ordinal: -1, scene: "Long", requiresLaTeX: false, createdAt: Date())
        plan.work = TaskWork(kind: .plan)
        _ = try await store.insert(video, tasks: [plan])
        #expect(try await store.video(id: "vp")?.options == video.options)
        plan.state = .done
        plan.attempt = 1
        var attempt = AttemptRecord(taskID: plan.id, attempt: 1, agentID: "a", startedAt: Date())
        attempt.outcome = "done"
        let ranges = [AnimationRange(first: 0, last: 3), AnimationRange(first: 4, last: 9)].enumerated().map { index, range in
            var task = TaskRecord(id: "vp-\(index)", videoID: "vp", ordinal: index, scene: "Long", requiresLaTeX: false, createdAt: Date())
            task.work = TaskWork(kind: .render, animations: range, expectedFrames: 60, estimatedSeconds: 4.5, cacheKey: "k\(index)")
            return task
        }
        try await store.commitPlan(plan, attempt: attempt, tasks: ranges)
        try await store.commitPlan(plan, attempt: attempt, tasks: ranges)  // replayed after an outage: no duplicates
        let stored = try await store.tasks(videoID: "vp")
        #expect(stored.map(\.id) == ["vp-plan", "vp-0", "vp-1"])
        #expect(stored[0].state == .done && stored[0].work.kind == .plan)
        #expect(stored[1...].map(\.work) == ranges.map(\.work))
        #expect(try await store.attempts(taskID: "vp-plan").map(\.outcome) == ["done"])
    }

    @Test(arguments: StoreKind.allCases)
    func aCachedRenderIsFoundByItsContentHashAndMarkedUsed(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        #expect(try await store.cachedRender(contentHash: "abc") == nil)
        let result = TaskResult(ref: AttemptRef(taskID: "t", attempt: 1), frames: 30, sourceWidth: 854, sourceHeight: 480,
                                frameRate: 15, timescale: 90_000, renditions: [], renderSeconds: 2.5)
        let created = Date(timeIntervalSinceNow: -60)
        try await store.saveCachedRender(CachedRender(contentHash: "abc", result: result, artifactPath: "/cache/abc", createdAt: created))
        let found = try #require(try await store.cachedRender(contentHash: "abc"))
        #expect(found.result == result)
        #expect(found.artifactPath == "/cache/abc")
        #expect(found.lastUsedAt > created.addingTimeInterval(30), "a hit refreshes lastUsedAt")
    }

    @Test(arguments: StoreKind.allCases)
    func aCachedPlanIsFoundByItsKey(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        #expect(try await store.cachedPlan(key: "plan-a") == nil)
        let scenes = [ScenePlan(scene: "Intro", animations: [PlannedAnimation(seconds: 1.5, frames: 90)]),
                      ScenePlan(scene: "Music", animations: [], sounds: true)]
        let plan = CachedPlan(planKey: "plan-a", scenes: scenes, manimVersion: "0.22.0", createdAt: Date(timeIntervalSince1970: 1_800_000_000))
        try await store.saveCachedPlan(plan)
        try await store.saveCachedPlan(plan)  // saving again replaces, not fails
        #expect(try await store.cachedPlan(key: "plan-a") == plan)
        #expect(try await store.cachedPlan(key: "plan-b") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func cachedRendersAreListedLeastRecentlyUsedFirstAndCanBeForgotten(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let segments = [SegmentInfo(index: 0, frames: 30, size: 5_000, crc32: 1)]
        let result = TaskResult(ref: AttemptRef(taskID: "t", attempt: 1), frames: 30, sourceWidth: 854, sourceHeight: 480,
                                frameRate: 15, timescale: 90_000,
                                renditions: [RenditionOutput(width: 854, height: 480, codecs: "avc1.64001e", initSize: 700,
                                                             initCRC32: 2, segments: segments)],
                                renderSeconds: 2.5)
        for (index, hash) in ["old", "new", "middle"].enumerated() {
            try await store.saveCachedRender(CachedRender(contentHash: hash, result: result, artifactPath: "/cache/\(hash)",
                                                          createdAt: Date(timeIntervalSinceNow: Double(index - 10))))
        }
        _ = try await store.cachedRender(contentHash: "old")  // a hit makes it the most recently used
        let listed = try await store.cachedRendersByLastUse()
        #expect(listed.map(\.contentHash) == ["new", "middle", "old"])
        #expect(listed.allSatisfy { $0.bytes == 5_700 })
        try await store.removeCachedRender(contentHash: "middle")
        #expect(try await store.cachedRendersByLastUse().map(\.contentHash) == ["new", "old"])
        #expect(try await store.cachedRender(contentHash: "middle") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func migratingAgainChangesNothing(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let (video, tasks) = Self.video("v1")
        _ = try await store.insert(video, tasks: tasks)
        try await store.migrate()
        try await store.migrate()
        #expect(try await store.video(id: "v1") != nil)
    }

    @Test(arguments: StoreKind.allCases)
    func theSameIdempotencyKeyReturnsTheFirstVideo(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let (first, firstTasks) = Self.video("v1", key: "k")
        let (second, secondTasks) = Self.video("v2", key: "k")
        _ = try await store.insert(first, tasks: firstTasks)
        #expect(try await store.insert(second, tasks: secondTasks).id == "v1")
        #expect(try await store.video(id: "v2") == nil)
        #expect(try await store.tasks(videoID: "v2").isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func unfinishedVideosAreWhatARestartResumes(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let now = Date()
        for (index, id) in ["old", "done", "new"].enumerated() {
            let (video, tasks) = Self.video(id, createdAt: now.addingTimeInterval(Double(index)))
            _ = try await store.insert(video, tasks: tasks)
        }
        var done = try #require(try await store.video(id: "done"))
        done.state = .done
        done.frames = 120
        done.seconds = 8
        try await store.update(done)
        let unfinished = try await store.unfinished()
        #expect(unfinished.map(\.0.id) == ["old", "new"])
        #expect(unfinished[0].1.map(\.ordinal) == [0, 1, 2])
        #expect(try await store.videos(limit: 2).map(\.id) == ["new", "done"])
        #expect(try await store.video(id: "done")?.frames == 120)
    }

    @Test(arguments: StoreKind.allCases)
    func aTaskChangeAndItsAttemptHistoryAreSavedTogether(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let (video, tasks) = Self.video("v1")
        _ = try await store.insert(video, tasks: tasks)
        var task = tasks[0]
        task.state = .running
        task.attempt = 1
        task.agentID = "agent-a"
        var attempt = AttemptRecord(taskID: task.id, attempt: 1, agentID: "agent-a", startedAt: Date())
        try await store.update(task, attempt: attempt)

        task.state = .done
        task.framesDone = 90
        task.result = TaskResult(
            ref: AttemptRef(taskID: task.id, attempt: 1), frames: 90, sourceWidth: 1280, sourceHeight: 720, frameRate: 30,
            timescale: 90_000, renditions: [RenditionOutput(width: 1280, height: 720, codecs: "avc1.64001f", initSize: 800,
                                                            initCRC32: 1, segments: [SegmentInfo(index: 0, frames: 90, size: 9, crc32: 2)])],
            renderSeconds: 2.5)
        task.error = TaskError(failureClass: .agentError, message: "earlier failure", logTail: "tail")
        attempt.endedAt = Date()
        attempt.outcome = "done"
        attempt.logTail = "ok"
        try await store.update(task, attempt: attempt)

        let loaded = try #require(try await store.tasks(videoID: "v1").first)
        #expect(loaded.state == .done)
        #expect(loaded.result == task.result)
        #expect(loaded.error == task.error)
        let history = try await store.attempts(taskID: task.id)
        #expect(history.count == 1)
        #expect(history.first?.outcome == "done")
        #expect(history.first?.logTail == "ok")
    }

    @Test(arguments: StoreKind.allCases)
    func agentsAreUpsertedByID(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var register = Register(agentID: "a", hostname: "h1", slots: 1, cores: 2, memoryBytes: 1 << 30, manimVersion: "0.22.0", hasLaTeX: false)
        try await store.save(AgentRecord(register, lastSeen: Date()))
        register.slots = 4
        register.hasLaTeX = true
        try await store.save(AgentRecord(register, lastSeen: Date()))
        register.agentID = "b"
        try await store.save(AgentRecord(register, lastSeen: Date()))
        let agents = try await store.agents()
        #expect(agents.map(\.id) == ["a", "b"])
        #expect(agents[0].slots == 4)
        #expect(agents[0].hasLaTeX)
    }

    @Test func twoCoordinatorsMigratingOnePostgresDatabaseAtOnceBothSucceed() async throws {
        let url = try await TestPostgres.freshDatabase()
        let first = try PostgresStore.running(url: url, logger: Logger(label: "a"))
        let second = try PostgresStore.running(url: url, logger: Logger(label: "b"))
        async let a: Void = first.migrate()
        async let b: Void = second.migrate()
        _ = try await (a, b)
        let (video, tasks) = Self.video("v1")
        _ = try await first.insert(video, tasks: tasks)
        #expect(try await second.video(id: "v1") != nil)
    }
}
