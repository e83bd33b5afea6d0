import FarmProtocol
import FarmStorage
import Foundation
import Testing

@Suite struct SQLiteStoreTests {
    static func makeStore() async throws -> SQLiteStore {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("farm-store-\(UUID().uuidString).sqlite").path
        let store = try SQLiteStore(path: path)
        try await store.migrate()
        try await store.migrate()  // applying twice is harmless
        return store
    }

    static func video(_ id: String, key: String? = nil) -> (VideoRecord, [TaskRecord]) {
        let now = Date()
        let video = VideoRecord(id: id, state: .queued, scriptName: "s.py", script: "x", settings: RenderSettings(),
                                encoding: EncodingPlan(renditions: [Rendition(height: 480)]), idempotencyKey: key, createdAt: now)
        let tasks = (0..<2).map { TaskRecord(id: "\(id)-\($0)", videoID: id, ordinal: $0, scene: "S\($0)", requiresLaTeX: false, createdAt: now) }
        return (video, tasks)
    }

    @Test func aVideoAndItsTasksAreStoredTogetherAndResumable() async throws {
        let store = try await Self.makeStore()
        let (video, tasks) = Self.video("v1")
        #expect(try await store.insert(video, tasks: tasks) == video)
        var running = tasks[0]
        running.state = .running
        running.attempt = 1
        running.agentID = "agent"
        try await store.update(running, attempt: AttemptRecord(taskID: running.id, attempt: 1, agentID: "agent", startedAt: Date()))
        let unfinished = try await store.unfinished()
        #expect(unfinished.count == 1)
        #expect(unfinished[0].1.map(\.state) == [.running, .pending])
        #expect(try await store.attempts(taskID: running.id).map(\.agentID) == ["agent"])

        var done = video
        done.state = .done
        try await store.update(done)
        #expect(try await store.unfinished().isEmpty)
        #expect(try await store.video(id: "v1")?.state == .done)
    }

    @Test func theSameIdempotencyKeyReturnsTheFirstVideo() async throws {
        let store = try await Self.makeStore()
        let (first, firstTasks) = Self.video("v1", key: "k")
        let (second, secondTasks) = Self.video("v2", key: "k")
        _ = try await store.insert(first, tasks: firstTasks)
        #expect(try await store.insert(second, tasks: secondTasks).id == "v1")
        #expect(try await store.video(id: "v2") == nil)
    }
}
