import Coordinator
import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Testing
import ZeroMQ

/// Whatever dies, an accepted video completes with every frame exactly once.
/// Real processes, killed and stopped for real.
@Suite(.serialized) struct FaultToleranceTests {
    /// Two scenes of 6 s each (90 frames at 15 fps), long enough to be killed mid-render.
    static let twoLongScenes = """
        from manim import *

        class First(Scene):
            def construct(self):
                s = Square(color=BLUE)
                self.play(Create(s), run_time=2)
                self.play(Rotate(s, PI), run_time=2)
                self.play(s.animate.shift(RIGHT * 2), run_time=2)

        class Second(Scene):
            def construct(self):
                c = Circle(color=RED)
                self.play(Create(c), run_time=2)
                self.play(c.animate.scale(0.5), run_time=2)
                self.play(FadeOut(c), run_time=2)
        """
    static let sceneFrames = [90, 90]

    /// Checks every rendition: clean decode, every frame of every scene once, continuous timestamps, IDRs at scene starts.
    static func expectComplete(_ status: VideoStatus, sceneFrames: [Int] = sceneFrames, fps: Double = 15) throws {
        try #require(status.state == .done, "video ended \(status.state): \(status.error ?? "")")
        let total = sceneFrames.reduce(0, +)
        #expect(status.frames == total)
        #expect(status.scenes.map(\.frames) == sceneFrames)
        let published = URL(fileURLWithPath: try #require(status.outputs).masterPath).deletingLastPathComponent()
        let master = try String(contentsOf: published.appendingPathComponent("master.m3u8"), encoding: .utf8)
        for variant in try PlaylistCheck(master: master, folder: published).variants {
            let path = published.appendingPathComponent(variant.uri).path
            #expect(try FFprobe.decodeErrors(path).isEmpty)
            let times = try FFprobe.frameTimes(path)
            #expect(times.count == total, "\(variant.uri): \(times.count) frames, expected \(total)")
            #expect(times.enumerated().allSatisfy { abs($1 - Double($0) / fps) < 0.0001 }, "continuous timestamps in \(variant.uri)")
            let keyframes = try FFprobe.keyframeTimes(path)
            for index in sceneFrames.indices {
                let start = Double(sceneFrames[..<index].reduce(0, +)) / fps
                #expect(keyframes.contains { abs($0 - start) < 0.001 })
            }
        }
    }

    static func submit(_ farm: FarmHarness, _ script: String = twoLongScenes) async throws -> String {
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: "long.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        return try farm.decodeStatus(body).id
    }

    @Test func killingAnAgentMidRenderLosesNothing() async throws {
        let farm = try await FarmHarness(agents: [[], []], leaseSeconds: 2)
        let id = try await Self.submit(farm)
        let victim = try await farm.waitFor(id) { status in
            status.scenes.contains { $0.state == .running && $0.agent == "agent-0" && $0.framesDone >= 10 }
        }.scenes.first { $0.state == .running && $0.agent == "agent-0" }!.name  // the one it renders, not one it finished
        farm.signalAgent(0, SIGKILL)
        let killedAt = ContinuousClock.now
        _ = try await farm.waitFor(id) { status in
            status.scenes.contains { $0.name == victim && $0.agent == "agent-1" && ($0.state == .running || $0.state == .done) }
        }
        let recovery = ContinuousClock.now - killedAt
        print("agent killed → its scene running on another agent after \(recovery) (lease 2 s)")
        #expect(recovery < .seconds(6))
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status)
        // A lost agent spends one retry of the task it ran (a task that kills its agents must not loop for ever).
        #expect(status.scenes.first { $0.name == victim }?.retriesSpent == 1)
        #expect(status.scenes.filter { $0.name != victim }.allSatisfy { $0.retriesSpent == 0 })
    }

    /// A killed agent's connection closes at once: its work goes back to the queue within about a
    /// second, although its lease (30 s here) would take much longer to expire.
    @Test func aKilledAgentsWorkIsRequeuedWithinASecondLongBeforeItsLease() async throws {
        let farm = try await FarmHarness(agents: [[], []], leaseSeconds: 30)
        let id = try await Self.submit(farm)
        let victim = try await farm.waitFor(id) { status in
            status.scenes.contains { $0.state == .running && $0.agent == "agent-0" && $0.framesDone >= 10 }
        }.scenes.first { $0.state == .running && $0.agent == "agent-0" }!.name  // the one it renders, not one it finished
        farm.signalAgent(0, SIGKILL)
        let killedAt = ContinuousClock.now
        _ = try await farm.waitFor(id, timeout: .seconds(10)) { status in
            status.scenes.contains { $0.name == victim && !($0.state == .running && $0.agent == "agent-0") }
        }
        let requeued = ContinuousClock.now - killedAt
        print("agent killed → its scene requeued after \(requeued) (lease 30 s)")
        #expect(requeued < .seconds(3))
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status)
        #expect(status.scenes.first { $0.name == victim }?.retriesSpent == 1)
    }

    @Test func killingTheCoordinatorMidVideoLosesNothing() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        // Twice as long as the other tests' scenes: warm renders finish a 6 s scene so fast
        // on an idle machine that a loaded one could miss the moment to kill.
        let script = Self.twoLongScenes.replacingOccurrences(of: "run_time=2", with: "run_time=4")
        let id = try await Self.submit(farm, script)
        _ = try await farm.waitFor(id) { status in status.scenes.contains { $0.state == .running && $0.framesDone >= 10 } }
        farm.killCoordinator()
        try await Task.sleep(for: .milliseconds(500))
        try await farm.restartCoordinator()
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status, sceneFrames: Self.sceneFrames.map { $0 * 2 })
    }

    @Test func aStoppedAgentsLateReportsAreRefused() async throws {
        let farm = try await FarmHarness(agents: [[], []], leaseSeconds: 2)
        let id = try await Self.submit(farm)
        let stopped = try await farm.waitFor(id) { status in
            status.scenes.contains { $0.state == .running && $0.agent == "agent-0" && $0.framesDone >= 3 }
        }.scenes.first { $0.state == .running && $0.agent == "agent-0" }!.name  // the one it renders, not one it finished
        farm.signalAgent(0, SIGSTOP)
        _ = try await farm.waitFor(id) { status in status.scenes.contains { $0.name == stopped && $0.agent == "agent-1" } }
        try await Task.sleep(for: .seconds(1))
        farm.signalAgent(0, SIGCONT)
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status)
        #expect(try await farm.stats().refusedReports > 0, "the superseded attempt's reports were refused")
    }

    @Test func aHangingSceneAndARunawayAllocationFailClearlyAndTheAgentCarriesOn() async throws {
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ["--no-progress-timeout", "4", "--render-memory-mib", "1024"])
        let hang = "from manim import *\n\nclass Hang(Scene):\n    def construct(self):\n        self.play(Create(Square()), run_time=0.5)\n        while True:\n            pass\n"
        let hog = "from manim import *\n\nclass Hog(Scene):\n    def construct(self):\n        self.play(Create(Square()), run_time=0.5)\n        hoard = []\n        while True:\n            hoard.append(bytearray(256 << 20))\n"
        let hung = try await farm.waitUntilFinal(try await Self.submit(farm, hang))
        #expect(hung.state == .failed)
        #expect(hung.scenes[0].error?.failureClass == .timeout)
        #expect(hung.error?.contains("no frame for 4 s") == true, "\(hung.error ?? "")")
        let hogged = try await farm.waitUntilFinal(try await Self.submit(farm, hog))
        #expect(hogged.state == .failed)
        #expect(hogged.scenes[0].error?.failureClass == .outOfMemory, "\(hogged.scenes[0].error?.logTail ?? "")")
        #expect(hogged.scenes[0].error?.reason == .outOfMemory)
        #expect(hung.scenes[0].error?.reason == .noProgress)
        #expect(hogged.error?.contains("memory") == true)
        // The same, only agent takes the next video.
        let fine = try await farm.waitUntilFinal(try await Self.submit(farm, "from manim import *\n\nclass Fine(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n"))
        try Self.expectComplete(fine, sceneFrames: [8])
        #expect(fine.scenes[0].agent == "agent-0")
    }

    /// Whose fault a failure is comes from the shim's typed exit status, not from the log's words:
    /// a render that prints a traceback and then dies is the agent's failure (retried), a raised
    /// exception is the script's (not retried), and its message is the exception's own line.
    @Test func failuresAreClassifiedFromTypedOutcomesNotFromLogText() async throws {
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ["--max-attempts", "2", "--no-split-scenes"])
        let dies = """
            from manim import *
            import os, sys

            class Dies(Scene):
                def construct(self):
                    self.play(FadeIn(Dot()), run_time=0.25)
                    print("Traceback (most recent call last):\\nValueError: Error everywhere", file=sys.stderr, flush=True)
                    os._exit(3)
            """
        let raises = """
            from manim import *

            class Raises(Scene):
                def construct(self):
                    self.play(FadeIn(Dot()), run_time=0.25)
                    raise KeyError("no such lemma")
            """
        let died = try await farm.waitUntilFinal(try await Self.submit(farm, dies))
        #expect(died.state == .failed)
        #expect(died.scenes[0].error?.reason == .crashed, "\(String(describing: died.scenes[0].error))")
        #expect(died.scenes[0].error?.failureClass == .agentError)
        #expect(died.scenes[0].attempt == 2, "an agent-side failure is retried")
        let raised = try await farm.waitUntilFinal(try await Self.submit(farm, raises))
        #expect(raised.state == .failed)
        #expect(raised.scenes[0].error?.reason == .scriptRaised)
        #expect(raised.scenes[0].error?.message == "KeyError: 'no such lemma'")
        #expect(raised.scenes[0].attempt == 1, "a script error is not retried")
    }

    @Test func drainingAnAgentMidRenderHandsItsWorkBackWithoutSpendingRetries() async throws {
        let farm = try await FarmHarness(agents: [["--drain-grace", "1"], []])
        let id = try await Self.submit(farm)
        _ = try await farm.waitFor(id) { status in
            status.scenes.contains { $0.state == .running && $0.agent == "agent-0" && $0.framesDone >= 3 }
        }
        farm.signalAgent(0, SIGTERM)
        farm.agents[0].waitUntilExit()
        #expect(farm.agents[0].terminationReason == .exit && farm.agents[0].terminationStatus == 0)
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status)
        #expect(status.scenes.allSatisfy { $0.retriesSpent == 0 })
    }

    @Test func aHundredThousandMalformedMessagesDoNotStopARender() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        let id = try await Self.submit(farm)
        let context = try ZMQContext()
        var sockets: [ZMQSocket] = []
        for index in 0..<4 {
            var options = SocketOptions(kind: .dealer)
            options.connect = [farm.zmq]
            options.routingID = Data("fuzzer-\(index)".utf8)
            options.security = try farm.curveClient()
            sockets.append(try ZMQSocket(context: context, options: options))
        }
        defer { sockets.forEach { $0.close() } }
        var generator = SystemRandomNumberGenerator()
        let valid = FarmWire.encode(.progress(RenderProgress(ref: AttemptRef(taskID: "\(id)-0", attempt: 1), framesDone: 1)))
        let total = 100_000
        for round in 0..<total {
            let frames: [Data]
            switch round % 6 {
            case 0:  // random bytes
                frames = [Data((0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })]
            case 1:  // another protocol version
                var other = valid
                other[0][2] = 99
                frames = other
            case 2:  // a huge declared length
                var huge = valid
                huge[0][4] = 1
                huge[1] = Data([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3])
                frames = huge
            case 3:  // truncated header
                frames = [valid[0].prefix(5), valid[1]]
            case 4:  // a well-formed report from an agent nobody registered
                frames = valid
            default:  // garbage body under a good header
                frames = [valid[0], Data("{\"ref\":".utf8)]
            }
            sockets[round % sockets.count].send(frames)
            if round % 5_000 == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status)
        let stats = try await farm.stats()
        #expect(stats.malformedMessages >= total * 4 / 6, "\(stats)")
        #expect(stats.refusedReports >= total / 6, "\(stats)")
        let (health, _) = try await farm.send("GET", "/healthz")
        #expect(health == 200)
    }

    @Test func cancellingStopsRendersOnAgentsWithinASecond() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        let id = try await Self.submit(farm)
        _ = try await farm.waitFor(id) { status in status.scenes.filter { $0.state == .running && $0.framesDone >= 3 }.count == 2 }
        let (code, _) = try await farm.send("DELETE", "/v1/videos/\(id)")
        #expect(code == 200)
        let cancelledAt = ContinuousClock.now
        var agents: [AgentStatus] = []
        while ContinuousClock.now - cancelledAt < .seconds(3) {
            agents = try await farm.get("/v1/agents")
            if agents.allSatisfy({ $0.running == 0 && $0.reportedRunning == 0 }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let elapsed = ContinuousClock.now - cancelledAt
        #expect(agents.allSatisfy { $0.running == 0 && $0.reportedRunning == 0 }, "\(agents)")
        #expect(elapsed < .milliseconds(1_500), "agents stopped their renders after \(elapsed)")
        let status: VideoStatus = try await farm.get("/v1/videos/\(id)")
        #expect(status.state == .cancelled)
        #expect(status.scenes.allSatisfy { $0.state == .cancelled })
    }

    @Test func aBrokenAgentsTasksAreRetriedElsewhereAndTheAgentIsBlocklisted() async throws {
        // agent-0's "Python" answers the environment probe like the real one (so it looks like any agent of the
        // fleet) but exits at once for anything else: every render there is an agent-side failure.
        let broken = FileManager.default.temporaryDirectory.appendingPathComponent("farm-broken-python-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: broken) }
        try "#!/bin/sh\n[ \"$1\" = -c ] && exec '\(FarmHarness.python)' \"$@\"\nexit 1\n".write(to: broken, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: broken.path)
        let farm = try await FarmHarness(agents: [["--python", broken.path], []])
        let scenes = (1...5).map { "class S\($0)(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n" }
        let id = try await Self.submit(farm, "from manim import *\n\n" + scenes.joined(separator: "\n"))
        let status = try await farm.waitUntilFinal(id)
        try Self.expectComplete(status, sceneFrames: Array(repeating: 8, count: 5))
        let retries = status.scenes.map(\.retriesSpent)
        #expect(retries.allSatisfy { $0 <= 1 }, "a retry goes to another agent: \(retries)")
        #expect((1...3).contains(retries.reduce(0, +)), "the broken agent is blocklisted after 3 failures: \(retries)")
        #expect(status.scenes.allSatisfy { $0.agent == "agent-1" })
    }

    @Test func aRetriedSubmitWithTheSameKeyReturnsTheSameVideo() async throws {
        let farm = try await FarmHarness(agents: [])
        let request = SubmitRequest(script: Self.twoLongScenes, quality: .low, idempotencyKey: "lesson-42")
        let (first, firstBody) = try await farm.submit(request)
        let (second, secondBody) = try await farm.submit(request)
        #expect(first == 201 && second == 201)
        #expect(try farm.decodeStatus(firstBody).id == farm.decodeStatus(secondBody).id)
        let (third, thirdBody) = try await farm.submit(SubmitRequest(script: Self.twoLongScenes, quality: .low, idempotencyKey: "other"))
        #expect(third == 201)
        #expect(try farm.decodeStatus(thirdBody).id != farm.decodeStatus(firstBody).id)
        let listed: VideoPage = try await farm.get("/v1/videos")
        #expect(listed.videos.count == 2)
    }
}
