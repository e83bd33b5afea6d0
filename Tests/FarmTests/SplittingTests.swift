@testable import Coordinator
import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Testing

/// Rendering a scene in animation ranges gives exactly the frames of a whole
/// render: the shim steps skipped animations frame by frame.
@Suite(.serialized) struct SplittingTests {
    static let fixtures = FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures")
    static let drift = fixtures.appendingPathComponent("drift.py")
    static let shim = FarmHarness.repository.appendingPathComponent("Sources/Agent/Shim/farm_shim.py").path

    /// SHA-256 of every frame the shim streams for `scene` (or its range `a,b`).
    static func frameHashes(_ scene: String, range: String? = nil, stock: Bool = false, script: URL = drift) throws -> [String] {
        let arguments = (stock ? ["--stock"] : []) + [FarmHarness.python, shim, script.path, scene, "l"] + (range.map { [$0] } ?? [])
        let output = try run(FarmHarness.python, [fixtures.appendingPathComponent("frame_hashes.py").path] + arguments).stdout
        return output.split(separator: "\n").map(String.init)
    }

    @Test(arguments: ["DtUpdater", "AlwaysRedraw", "SeededRandom", "RotatingCamera"])
    func rangesRenderTheSameFramesAsTheWholeScene(scene: String) throws {
        let whole = try Self.frameHashes(scene)
        #expect(whole.count > 30)
        #expect(Set(whole).count > whole.count / 2, "the scene moves on most frames")
        let halves = try Self.frameHashes(scene, range: "0,1") + Self.frameHashes(scene, range: "2,3")
        #expect(halves == whole, "halves differ from the whole render at frame \(zip(halves, whole).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
        let thirds = try Self.frameHashes(scene, range: "0,0") + Self.frameHashes(scene, range: "1,2")
            + Self.frameHashes(scene, range: "3,3")
        #expect(thirds == whole)
    }

    @Test(arguments: ["DtUpdater", "AlwaysRedraw", "SeededRandom", "RotatingCamera"])
    func theFixturesDriftUnderManimsOwnSkipping(scene: String) throws {
        // Guards the test above: these scenes do notice how skipped time advances.
        let whole = try Self.frameHashes(scene, stock: true)
        let secondHalf = try Self.frameHashes(scene, range: "2,3", stock: true)
        #expect(secondHalf != Array(whole.suffix(secondHalf.count)))
    }

    @Test func aPlanningPassListsAnimationsAndNoticesSounds() throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("sounds-\(UUID().uuidString.prefix(8)).py")
        try """
            import os, tempfile, wave
            from manim import *

            CLICK = os.path.join(tempfile.gettempdir(), "farm-test-click.wav")
            with wave.open(CLICK, "wb") as w:
                w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(b"\\0\\0" * 800)

            class WithSound(Scene):
                def construct(self):
                    self.add_sound(CLICK)
                    self.play(Create(Square()), run_time=1)
                    self.wait(0.5)

            class Silent(Scene):
                def construct(self):
                    self.play(Create(Circle()), run_time=0.4)
            """.write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        let output = try run(FarmHarness.python, [Self.fixtures.appendingPathComponent("frame_hashes.py").path, "--plan",
                                                 FarmHarness.python, Self.shim, script.path, "WithSound,Silent", "l"]).stdout
        let plans = try output.split(separator: "\n").map { try JSONDecoder().decode(ScenePlan.self, from: Data($0.utf8)) }
        #expect(plans.map(\.scene) == ["WithSound", "Silent"])
        #expect(plans[0].animations == [PlannedAnimation(seconds: 1, frames: 15), PlannedAnimation(seconds: 0.5, frames: 7)])
        #expect(plans[0].sounds)
        #expect(!plans[1].sounds)
        #expect(plans[1].frames == 6)
    }

    // MARK: Planning

    static func plan(_ name: String, seconds: [Double], sounds: Bool = false) -> ScenePlan {
        ScenePlan(scene: name, animations: seconds.map { PlannedAnimation(seconds: $0, frames: Int($0 * 60)) }, sounds: sounds)
    }

    @Test func longScenesAreCutIntoContiguousRangesAndShortOnesStayWhole() {
        let planner = SplitPlanner(costModel: CostModel(), slots: 2, minimumPieceSeconds: 1)
        let scenes = ["Intro", "Long", "Outro"].map { SceneSpec(name: $0, requiresLaTeX: false) }
        let plans = [Self.plan("Intro", seconds: [1, 1]), Self.plan("Long", seconds: Array(repeating: 1.5, count: 12)),
                     Self.plan("Outro", seconds: [2])]
        let pieces = planner.pieces(scenes: scenes, plans: plans, quality: .high, split: true)
        #expect(pieces.first?.scene.name == "Intro" && pieces.first?.animations == nil)
        #expect(pieces.last?.scene.name == "Outro" && pieces.last?.animations == nil)
        let ranges = pieces.filter { $0.scene.name == "Long" }.compactMap(\.animations)
        #expect(ranges.count >= 2, "the long scene is cut")
        #expect(ranges.first?.first == 0 && ranges.last?.last == 11)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.last + 1 == $1.first }, "ranges are contiguous: \(ranges)")
        #expect(pieces.reduce(0) { $0 + $1.frames } == plans.reduce(0) { $0 + $1.frames })
        let longest = pieces.map(\.estimatedSeconds).max()!
        let whole = planner.pieces(scenes: scenes, plans: plans, quality: .high, split: false)
        #expect(whole.count == 3 && longest < whole.map(\.estimatedSeconds).max()!)
    }

    @Test func withGrowingPlaylistsThePieceThatOpensTheVideoIsDispatchedFirst() {
        var planner = SplitPlanner(costModel: CostModel(), slots: 2, minimumPieceSeconds: 1)
        let scenes = ["Intro", "Long", "Outro"].map { SceneSpec(name: $0, requiresLaTeX: false) }
        let plans = [Self.plan("Intro", seconds: [1, 1]), Self.plan("Long", seconds: Array(repeating: 1.5, count: 12)),
                     Self.plan("Outro", seconds: [2])]
        let balanced = planner.pieces(scenes: scenes, plans: plans, quality: .high, split: true)
        #expect(balanced.first?.rank != 0, "balancing alone starts with a longer piece")
        planner.headFirst = true
        let headFirst = planner.pieces(scenes: scenes, plans: plans, quality: .high, split: true)
        #expect(headFirst.first?.scene.name == "Intro" && headFirst.first?.rank == 0)
        #expect(headFirst.first?.animations == AnimationRange(first: 0, last: 0), "the head is halved: it alone delays playback")
        #expect(headFirst.dropFirst().first?.animations == AnimationRange(first: 1, last: 1))
        #expect(headFirst.reduce(0) { $0 + $1.frames } == balanced.reduce(0) { $0 + $1.frames })
        #expect(Set(headFirst.map(\.rank)) == Set(0..<headFirst.count))
        // Too short to halve: whole, but still first.
        var short = planner
        short.minimumPieceSeconds = 10
        #expect(short.pieces(scenes: scenes, plans: plans, quality: .high, split: true).first?.animations == nil)
    }

    @Test func aSceneWhoseSoundsThePlanDoesNotListIsRenderedWholeAndSaysWhy() {
        let planner = SplitPlanner(costModel: CostModel(), slots: 4, minimumPieceSeconds: 1)
        let pieces = planner.pieces(scenes: [SceneSpec(name: "Music", requiresLaTeX: false)],
                                    plans: [Self.plan("Music", seconds: Array(repeating: 2, count: 10), sounds: true)],
                                    quality: .high, split: true)
        #expect(pieces.count == 1)
        #expect(pieces[0].animations == nil)
        #expect(pieces[0].note?.contains("sounds") == true)
    }

    @Test func aSceneWithListedSoundsSplitsLikeAnyOther() {
        let planner = SplitPlanner(costModel: CostModel(), slots: 4, minimumPieceSeconds: 1)
        var plan = Self.plan("Music", seconds: Array(repeating: 2, count: 10), sounds: true)
        plan.soundEvents = [PlannedSound(file: "click.wav", seconds: 3)]
        let pieces = planner.pieces(scenes: [SceneSpec(name: "Music", requiresLaTeX: false)], plans: [plan], quality: .high, split: true)
        #expect(pieces.count > 1)
        #expect(pieces.allSatisfy { $0.note == nil })
    }

    /// Scenes of 1–4 s animations, 6–30 s each, about `secondsPerSlot` of work per slot (as `bench/fleet.py` makes them).
    static func fleetVideo(slots: Int, secondsPerSlot: Double) -> (scenes: [SceneSpec], plans: [ScenePlan]) {
        var state: UInt64 = 42
        func uniform(_ low: Double, _ high: Double) -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return low + (high - low) * Double(state >> 11) / Double(1 << 53)
        }
        var plans: [ScenePlan] = []
        var total = 0.0
        while total < secondsPerSlot * Double(slots) {
            let length = uniform(6, 30)
            var waits: [Double] = []
            while waits.reduce(0, +) < length { waits.append((uniform(1, 4) * 10).rounded() / 10) }
            plans.append(plan("S\(plans.count)", seconds: waits))
            total += waits.reduce(0, +)
        }
        return (plans.map { SceneSpec(name: $0.scene, requiresLaTeX: false) }, plans)
    }

    /// When the last of `slots` slots finishes if they take `pieces` in dispatch order.
    static func makespan(_ pieces: [SplitPlanner.Piece], _ planner: SplitPlanner, slots: Int) -> Double {
        let order = pieces.sorted { $0.rank < $1.rank }.map {
            SplitPlanner.Span(scene: 0, first: 0, last: 0, cost: $0.estimatedSeconds - planner.costModel.fixedSeconds, splittable: false)
        }
        return planner.makespan(of: order, slots: slots)
    }

    @Test(arguments: [50, 200])
    func aFleetSizedVideoIsCutAndOrderedSoThatEverySlotFinishesNearTheIdealBound(slots: Int) {
        var costModel = CostModel()
        costModel.observe(frames: 600, quality: .high, seconds: 10.5)  // about one second per second of video
        let planner = SplitPlanner(costModel: costModel, slots: slots, minimumPieceSeconds: 3)
        let (scenes, plans) = Self.fleetVideo(slots: slots, secondsPerSlot: 30)
        let pieces = planner.pieces(scenes: scenes, plans: plans, quality: .high, split: true)

        for (index, plan) in plans.enumerated() {
            let ranges = pieces.filter { $0.scene.name == plan.scene }
                .map { $0.animations ?? AnimationRange(first: 0, last: plan.animations.count - 1) }
            #expect(ranges.first?.first == 0 && ranges.last?.last == plan.animations.count - 1, "scene \(index) is covered")
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.last + 1 == $1.first }, "scene \(index): \(ranges)")
        }
        #expect(pieces.allSatisfy { $0.animations == nil || $0.estimatedSeconds >= 3 }, "no range is cut below the minimum")
        #expect(Set(pieces.map(\.rank)) == Set(pieces.indices), "every piece has its own place in the dispatch order")

        // The ideal bound of the uncut video: its whole work spread evenly (no animation is longer).
        let ideal = plans.reduce(0) { $0 + costModel.estimate(frames: $1.frames, quality: .high) } / Double(slots)
        let balanced = Self.makespan(pieces, planner, slots: slots)
        #expect(balanced <= ideal * 1.06, "planned makespan \(balanced) s against an ideal \(ideal) s")

        // Even cuts dispatched longest first leave a tail on a big fleet.
        var unbalanced = planner
        unbalanced.balance = false
        let even = Self.makespan(unbalanced.pieces(scenes: scenes, plans: plans, quality: .high, split: true), planner, slots: slots)
        #expect(even > balanced, "even cuts: \(even) s; balanced: \(balanced) s")
        #expect(pieces.count <= plans.count + 2 * slots, "\(pieces.count) pieces for \(plans.count) scenes")
    }

    @Test func balancingLeavesScenesWithUnlistedSoundsWhole() {
        let planner = SplitPlanner(costModel: CostModel(), slots: 8, minimumPieceSeconds: 1)
        let scenes = ["Music", "Quiet"].map { SceneSpec(name: $0, requiresLaTeX: false) }
        let plans = [Self.plan("Music", seconds: Array(repeating: 2, count: 10), sounds: true),
                     Self.plan("Quiet", seconds: Array(repeating: 2, count: 10))]
        let pieces = planner.pieces(scenes: scenes, plans: plans, quality: .high, split: true)
        #expect(pieces.filter { $0.scene.name == "Music" }.map(\.animations) == [nil])
        #expect(pieces.filter { $0.scene.name == "Quiet" }.count > 1)
    }

    // MARK: Render cache

    @Test func evictionDropsTheLeastRecentlyUsedRendersUntilTheCacheFits() {
        func render(_ hash: String, bytes: Int) -> CachedRender {
            let rendition = RenditionOutput(width: 256, height: 144, codecs: "avc1.64000b", initSize: 0, initCRC32: 0,
                                            segments: [SegmentInfo(index: 0, frames: 1, size: bytes, crc32: 0)])
            let result = TaskResult(ref: AttemptRef(taskID: hash, attempt: 1), frames: 1, sourceWidth: 256, sourceHeight: 144,
                                    frameRate: 1, timescale: 90_000, renditions: [rendition], renderSeconds: 1)
            return CachedRender(contentHash: hash, result: result, artifactPath: "/cache/\(hash)", createdAt: Date())
        }
        let byLastUse = [render("a", bytes: 40), render("b", bytes: 30), render("c", bytes: 20), render("d", bytes: 10)]
        #expect(RenderCacheEviction.victims(byLastUse, totalBytes: 100, targetBytes: 100).isEmpty)
        #expect(RenderCacheEviction.victims(byLastUse, totalBytes: 100, targetBytes: 45).map(\.contentHash) == ["a", "b"])
        #expect(RenderCacheEviction.victims(byLastUse, totalBytes: 100, targetBytes: 0).count == 4)
    }

    // MARK: Scheduling

    static func video(_ id: String, submitter: String, team: String? = nil, priority: Int = 0, age: TimeInterval) -> VideoRecord {
        var video = VideoRecord(id: id, state: .queued, scriptName: "s.py", script: "", settings: RenderSettings(),
                                encoding: EncodingPlan(renditions: []), idempotencyKey: nil, createdAt: Date(timeIntervalSinceNow: -age))
        video.options = VideoOptions(priority: priority, submitter: submitter)
        video.teamID = team
        video.userID = team.map { _ in submitter }
        return video
    }

    static func task(_ video: String, _ ordinal: Int, estimate: Double, kind: TaskKind = .render) -> TaskRecord {
        var task = TaskRecord(id: "\(video)-\(ordinal)", videoID: video, ordinal: ordinal, scene: "S\(ordinal)",
                              requiresLaTeX: false, createdAt: Date())
        task.work = TaskWork(kind: kind, estimatedSeconds: estimate)
        return task
    }

    @Test func theLongestTaskOfAVideoStartsFirstAfterItsPlan() {
        let videos = ["a": Self.video("a", submitter: "ann", age: 10)]
        var queues = DispatchQueues(
            pending: [Self.task("a", 0, estimate: 2), Self.task("a", 1, estimate: 9), Self.task("a", 2, estimate: 5),
                      Self.task("a", -1, estimate: 0, kind: .plan)],
            videos: videos, running: [:])
        var order: [Int] = []
        while let task = queues.next() { order.append(task.ordinal) }
        #expect(order == [-1, 1, 2, 0])
    }

    @Test func aPlannedDispatchOrderOverridesLongestFirst() {
        let videos = ["a": Self.video("a", submitter: "ann", age: 10)]
        var tasks = [Self.task("a", 0, estimate: 2), Self.task("a", 1, estimate: 9), Self.task("a", 2, estimate: 5)]
        // The planner put the short piece before the middle one: it fills a slot up to the common finish.
        for (index, rank) in [0: 1, 1: 0, 2: 2] { tasks[index].work.dispatchRank = rank }
        var queues = DispatchQueues(pending: tasks, videos: videos, running: [:])
        var order: [Int] = []
        while let task = queues.next() { order.append(task.ordinal) }
        #expect(order == [1, 0, 2])
    }

    @Test func higherPriorityFirstThenAgentsAreSharedFairlyBetweenSubmitters() {
        let videos = ["old": Self.video("old", submitter: "ann", age: 100), "new": Self.video("new", submitter: "bob", age: 1),
                      "urgent": Self.video("urgent", submitter: "cy", priority: 5, age: 0)]
        let pending = (0..<3).map { Self.task("old", $0, estimate: 5) } + (0..<3).map { Self.task("new", $0, estimate: 5) }
            + [Self.task("urgent", 0, estimate: 1)]
        var queues = DispatchQueues(pending: pending, videos: videos, running: [ShareKey(team: "", user: "ann"): 1])
        var order: [String] = []
        while let task = queues.next() {
            order.append(task.videoID)
            queues.started(task)
        }
        #expect(order.first == "urgent", "priority beats age")
        // ann already runs one task, so bob goes first, then they alternate.
        #expect(Array(order.dropFirst()) == ["new", "old", "new", "old", "new", "old"])
    }

    @Test func agentsAreSharedBetweenTeamsFirstThenBetweenATeamsUsers() {
        // Team t1 has two users, team t2 one: t2's user gets as many slots as t1's two together.
        let videos = ["a1": Self.video("a1", submitter: "ann", team: "t1", age: 30), "a2": Self.video("a2", submitter: "amy", team: "t1", age: 20),
                      "b": Self.video("b", submitter: "bob", team: "t2", age: 10)]
        let pending = ["a1", "a2", "b"].flatMap { video in (0..<3).map { Self.task(video, $0, estimate: 5) } }
        var queues = DispatchQueues(pending: pending, videos: videos, running: [:])
        var order: [String] = []
        while let task = queues.next() {
            order.append(task.videoID)
            queues.started(task)
        }
        #expect(order.count == 9)
        #expect(order.prefix(6).filter { $0 == "b" }.count == 3, "half of the first six slots go to team t2: \(order)")
        #expect(order.filter { $0.hasPrefix("a") }.prefix(4).sorted() == ["a1", "a1", "a2", "a2"], "t1's users alternate: \(order)")
    }
}
