import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Testing

/// Where the two stores must agree beyond replaying identical rows: a planned task
/// written again with other contents, reads that race writes, and cache changes
/// that go through `apply` like every other change.
@Suite struct StoreConsistencyTests {
    @Test(arguments: StoreKind.allCases)
    func aReplannedTaskReplacesTheEarlierRow(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var (video, _) = StoreContractTests.video("vr")
        video.options = VideoOptions(priority: 0, submitter: "ann", scenes: [SceneSpec(name: "Long", requiresLaTeX: false, fingerprint: "f")])
        var plan = TaskRecord(id: "vr-plan", videoID: "vr", ordinal: -1, scene: "Long", requiresLaTeX: false, createdAt: Date())
        plan.work = TaskWork(kind: .plan)
        _ = try await store.insert(video, tasks: [plan])
        plan.state = .done
        plan.attempt = 1
        let attempt = AttemptRecord(taskID: plan.id, attempt: 1, agentID: "a", startedAt: Date())
        var first = TaskRecord(id: "vr-0", videoID: "vr", ordinal: 0, scene: "Long", requiresLaTeX: false, createdAt: Date())
        first.work = TaskWork(kind: .render, animations: AnimationRange(first: 0, last: 3), note: "first plan")
        try await store.apply([.planned(plan, attempt, [first])])
        // The same task id planned again (a plan that failed and is rendered whole, say): the new row wins.
        var second = first
        second.work = TaskWork(kind: .render, animations: nil, note: "rendered whole")
        second.requiresLaTeX = true
        try await store.apply([.planned(plan, attempt, [second])])
        let stored = try #require(try await store.tasks(videoID: "vr").first { $0.id == "vr-0" })
        #expect(stored.work.note == "rendered whole")
        #expect(stored.work.animations == nil)
        #expect(stored.requiresLaTeX)
    }

    /// A reader of unfinished work never sees a video and its tasks from two different commits.
    @Test(arguments: StoreKind.allCases)
    func unfinishedWorkIsReadFromOneSnapshot(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        var videos: [(VideoRecord, [TaskRecord])] = []
        for index in 0..<4 {
            let (video, tasks) = StoreContractTests.video("vs\(index)")
            _ = try await store.insert(video, tasks: tasks)
            videos.append((video, tasks))
        }
        let rounds = 150
        async let writes: Void = {
            // Each round moves every video and all its tasks to generation `round` in one transaction.
            for round in 1...rounds {
                var changes: [StoreChange] = []
                for (video, tasks) in videos {
                    var video = video
                    video.frames = round
                    changes.append(.video(video))
                    for var task in tasks {
                        task.framesDone = round
                        changes.append(.task(task))
                    }
                }
                try await store.apply(changes)
            }
        }()
        var reads = 0
        var torn: [String] = []
        while reads < 400 {
            for (video, tasks) in try await store.unfinished() {
                let generation = video.frames ?? 0
                if tasks.count != 3 || tasks.contains(where: { $0.framesDone != generation }) {
                    torn.append("\(video.id): video at \(generation), tasks at \(tasks.map(\.framesDone))")
                }
            }
            reads += 1
            if torn.count > 3 { break }
        }
        try await writes
        #expect(torn.isEmpty, "torn reads: \(torn.prefix(3))")
        let final = try await store.unfinished()
        #expect(final.count == 4)
        #expect(final.allSatisfy { $0.0.frames == rounds && $0.1.allSatisfy { $0.framesDone == rounds } })
    }

    @Test(arguments: StoreKind.allCases)
    func cacheChangesGoThroughApplyInOrder(_ kind: StoreKind) async throws {
        let store = try await kind.make()
        let result = TaskResult(ref: AttemptRef(taskID: "t", attempt: 1), frames: 30, sourceWidth: 854, sourceHeight: 480,
                                frameRate: 15, timescale: 90_000, renditions: [], renderSeconds: 2.5)
        let render = CachedRender(contentHash: "h1", result: result, artifactPath: "/cache/h1", createdAt: Date())
        var moved = render
        moved.artifactPath = "/cache/elsewhere"
        let plan = CachedPlan(planKey: "p1", scenes: [], manimVersion: "0.22.0", createdAt: Date())
        try await store.apply([.cachedRender(render), .cachedPlan(plan), .cachedRender(moved), .cachedRender(
            CachedRender(contentHash: "h2", result: result, artifactPath: "/cache/h2", createdAt: Date()))])
        #expect(try await store.cachedRender(contentHash: "h1")?.artifactPath == "/cache/elsewhere")
        #expect(try await store.cachedPlan(key: "p1")?.manimVersion == "0.22.0")
        try await store.apply([.uncachedRender(contentHash: "h1")])
        #expect(try await store.cachedRender(contentHash: "h1") == nil)
        #expect(try await store.cachedRendersByLastUse().map(\.contentHash) == ["h2"])
    }
}
