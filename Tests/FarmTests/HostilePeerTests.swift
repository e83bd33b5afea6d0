import Coordinator
import FarmModel
import FarmProtocol
import Foundation
import Testing
import ZeroMQ

/// A process that reaches the coordinator's ZeroMQ port and speaks the farm
/// protocol with intent: it registers as an agent, takes work and answers
/// with forgeries. The coordinator must refuse them, stay up, and render the
/// next honest video correctly.
@Suite(.serialized) struct HostilePeerTests {
    static let oneScene = """
        from manim import *

        class Only(Scene):
            def construct(self):
                self.play(FadeIn(Square()), run_time=1)
        """

    /// A hand-driven agent: a DEALER that registers under `id`.
    final class ForgedAgent: @unchecked Sendable {
        let socket: ZMQSocket
        var iterator: AsyncStream<ZMQMessage>.Iterator

        init(_ farm: FarmHarness, context: ZMQContext, id: String, joinsParts: Bool? = nil) throws {
            var options = SocketOptions(kind: .dealer)
            options.connect = [farm.zmq]
            options.routingID = Data(id.utf8)
            options.security = try farm.curveClient()
            socket = try ZMQSocket(context: context, options: options)
            iterator = socket.incoming.makeAsyncIterator()
            send(.register(Register(agentID: id, hostname: "forger", slots: 1, cores: 1, memoryBytes: 1 << 30,
                                    manimVersion: "0.22.0", hasLaTeX: true, joinsParts: joinsParts)))
        }

        func send(_ message: FarmMessage) { socket.send(FarmWire.encode(message)) }

        /// The next assignment, answering heartbeats on the way.
        func nextAssign(timeout: Duration = .seconds(30)) async throws -> Assign {
            try await next(timeout: timeout, "assignment") { if case .assign(let assign) = $0 { assign } else { nil } }
        }

        /// The next message `pick` takes, answering the others with heartbeats.
        func next<T>(timeout: Duration = .seconds(30), _ what: String, _ pick: (FarmMessage) -> T?) async throws -> T {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                guard let message = await iterator.next() else { break }
                if let picked = pick(try FarmWire.decode(message.frames)) { return picked }
                send(.heartbeat(Heartbeat(freeSlots: 1)))
            }
            throw HarnessError("no \(what) reached the forged agent")
        }

        func close() { socket.close() }
    }

    static func submit(_ farm: FarmHarness, _ script: String = oneScene, name: String? = nil) async throws -> String {
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: name, quality: .low, split: false))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        return try farm.decodeStatus(body).id
    }

    @Test func forgedResultsFailTheirAttemptAndTheNextHonestAgentRendersTheVideo() async throws {
        let farm = try await FarmHarness(agents: [], leaseSeconds: 2)
        let context = try ZMQContext()
        let forger = try ForgedAgent(farm, context: context, id: "forger")
        try await farm.waitForAgents(1)
        let id = try await Self.submit(farm, name: "../../../../tmp/evil.py")
        let assign = try await forger.nextAssign()
        #expect(assign.scriptName == "evil.py", "only the basename of a submitted name reaches an agent")

        let rendition = RenditionOutput(width: 854, height: 480, codecs: "avc1.64001e\"\n#EXT-X-INJECTED", initSize: 100,
                                        initCRC32: 0, segments: [SegmentInfo(index: 0, frames: 15, size: 10, crc32: 0)])
        // Empty renditions with frames, and frames that do not add up: malformed, dropped at the gateway.
        forger.send(.result(TaskResult(ref: assign.ref, frames: 15, sourceWidth: 854, sourceHeight: 480, frameRate: 15,
                                       timescale: 15_360, renditions: [], renderSeconds: 1)))
        forger.send(.result(TaskResult(ref: assign.ref, frames: Int.max, sourceWidth: 854, sourceHeight: 480, frameRate: 15,
                                       timescale: 15_360, renditions: [rendition], renderSeconds: .nan)))
        // A well-formed result whose files never arrived: refused, and it spends a retry.
        forger.send(.result(TaskResult(ref: assign.ref, frames: 15, sourceWidth: 854, sourceHeight: 480, frameRate: 15,
                                       timescale: 15_360, renditions: [rendition, rendition], renderSeconds: 1)))
        let failed = try await farm.waitFor(id) { ($0.scenes.first?.retriesSpent ?? 0) >= 1 }
        #expect(failed.state != .done)

        // The forger vanishes; an honest agent renders the video, which plays whole.
        forger.close()
        try farm.startAgent(index: 0)
        let status = try await farm.waitUntilFinal(id)
        try FaultToleranceTests.expectComplete(status, sceneFrames: [15])
        #expect(status.scenes.first?.agent == "agent-0")
        let master = try String(contentsOfFile: try #require(status.outputs).masterPath, encoding: .utf8)
        #expect(!master.contains("INJECTED"))
        #expect(farm.coordinator.isRunning)
        let stats = try await farm.stats()
        #expect(stats.malformedMessages >= 2, "\(stats)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/evil.py"))
    }

    @Test func aTaskThatKeepsLosingItsAgentsFailsItsVideoWithThatReason() async throws {
        let farm = try await FarmHarness(agents: [], leaseSeconds: 1)
        let context = try ZMQContext()
        var forger = try ForgedAgent(farm, context: context, id: "victim-0")
        try await farm.waitForAgents(1)
        let id = try await Self.submit(farm)
        // Each "agent" takes the task and dies with it (goes silent), as a task that kills its agent would make it.
        for round in 1...3 {
            _ = try await forger.nextAssign()
            forger.close()
            if round < 3 {
                _ = try await farm.waitFor(id) { ($0.scenes.first?.retriesSpent ?? 0) >= round }
                forger = try ForgedAgent(farm, context: context, id: "victim-\(round)")
            }
        }
        let status = try await farm.waitUntilFinal(id)
        #expect(status.state == .failed)
        #expect(status.error?.contains("lost") == true, "\(status.error ?? "")")
        #expect(status.scenes.first?.retriesSpent == 3)
        #expect(farm.coordinator.isRunning)
    }

    @Test func anOversizedMultipartMessageIsDroppedAndTheCoordinatorCarriesOn() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let context = try ZMQContext()
        var options = SocketOptions(kind: .dealer)
        options.connect = [farm.zmq]
        options.security = try farm.curveClient()
        let flooder = try ZMQSocket(context: context, options: options)
        defer { flooder.close() }
        // Eight parts of 24 MiB each: every part is under libzmq's per-part limit, the whole is not allowed.
        let part = Data(repeating: 0x41, count: 24 << 20)
        for _ in 0..<3 { flooder.send(Array(repeating: part, count: 8)) }
        let id = try await Self.submit(farm)
        let status = try await farm.waitUntilFinal(id)
        try FaultToleranceTests.expectComplete(status, sceneFrames: [15])
        #expect(farm.coordinator.isRunning)
        let peak = try String(contentsOfFile: "/proc/\(farm.coordinator.processIdentifier)/status", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("VmHWM") } ?? "?"
        print("coordinator peak memory after 3 × 8 × 24 MiB messages: \(peak)")
    }

    /// The first message `socket` receives within `timeout`, or `nil`.
    static func firstMessage(_ socket: ZMQSocket, within timeout: Duration) async -> ZMQMessage? {
        await withTaskGroup(of: ZMQMessage?.self) { group in
            group.addTask {
                var iterator = socket.incoming.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func peersWithoutAnAdmittedKeyGetNothingAndCannotTakeAnAgentsIdentity() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let context = try ZMQContext()
        let register = FarmWire.encode(.register(Register(agentID: "agent-0", hostname: "impostor", slots: 1, cores: 1,
                                                           memoryBytes: 1 << 30, manimVersion: "0.22.0", hasLaTeX: true)))
        // A plaintext peer and a peer with a key nobody admitted: no handshake completes, nothing comes back.
        for security in [SocketSecurity.plain, try farm.curveClient(admitted: false)] {
            var options = SocketOptions(kind: .dealer)
            options.connect = [farm.zmq]
            options.routingID = Data("stranger".utf8)
            options.security = security
            let stranger = try ZMQSocket(context: context, options: options)
            stranger.send(register)
            let reply = await Self.firstMessage(stranger, within: .seconds(2))
            #expect(reply == nil, "\(security) got \(reply.map { "\($0.frames.count) frames" } ?? "")")
            stranger.close()
        }
        // An admitted key that claims another agent's id is refused, under its own identity or the agent's.
        for identity in ["impostor", "agent-0"] {
            var options = SocketOptions(kind: .dealer)
            options.connect = [farm.zmq]
            options.routingID = Data(identity.utf8)
            options.security = try farm.curveClient()
            let impostor = try ZMQSocket(context: context, options: options)
            impostor.send(register)
            if let reply = await Self.firstMessage(impostor, within: .seconds(3)) {
                guard case .refused(let refusal) = try FarmWire.decode(reply.frames) else {
                    Issue.record("an impostor under \(identity) was answered with \((try? FarmWire.decode(reply.frames)).map { "\($0)" } ?? "garbage")")
                    impostor.close()
                    continue
                }
                #expect(refusal.reason.contains("another key"), "\(refusal.reason)")
            }  // else: the ROUTER refused a second connection under a live identity outright
            impostor.close()
        }
        let agents: [AgentStatus] = try await farm.get("/v1/agents")
        #expect(agents.map(\.id) == ["agent-0"])
        #expect(agents.first?.hostname != "impostor")
        // The real agent-0 still renders.
        let status = try await farm.waitUntilFinal(try await Self.submit(farm))
        try FaultToleranceTests.expectComplete(status, sceneFrames: [15])
        #expect(status.scenes.first?.agent == "agent-0")
    }
}
