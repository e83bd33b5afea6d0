import Coordinator
import FarmModel
import FarmProtocol
import Foundation
import Testing

/// Strangers' scripts that try to read, reach, outlive or poison the farm,
/// run by a real agent in its sandbox. Each ends with a clear reason or
/// renders harmlessly; nothing of the agent reaches the submitter; nothing
/// the script started outlives it; the next honest video renders correctly.
@Suite(.serialized) struct HostileScriptTests {
    static let secret = "farm-test-secret-\(UUID().uuidString.prefix(8))"

    static func script(_ body: String) -> String {
        """
        import json, os, signal, socket, struct, subprocess, sys
        from manim import *

        def report(found):
            # Printed last and alone (a traceback would push it out of the 40-line log tail).
            print("FINDINGS " + json.dumps(found), file=sys.stderr, flush=True)
            os._exit(1)


        """ + body
    }

    static func submit(_ farm: FarmHarness, _ script: String) async throws -> VideoStatus {
        let (code, body) = try await farm.submit(SubmitRequest(script: script, quality: .low, split: false, cache: false))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        return try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
    }

    /// What a failed scene reported on a `FINDINGS {...}` line of its log.
    static func findings(_ status: VideoStatus) throws -> [String: String] {
        let log = try #require(status.scenes.first?.error?.logTail, "the scene was expected to fail with its log")
        let line = try #require(log.split(separator: "\n").first { $0.hasPrefix("FINDINGS ") }, "\(log.suffix(2_000))")
        return try JSONDecoder().decode([String: String].self, from: Data(line.dropFirst("FINDINGS ".count).utf8))
    }

    static func processes(matching marker: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return command.contains(marker) ? command : nil
        }
    }

    static let honest = "class Honest(Scene):\n    def construct(self):\n        self.play(FadeIn(Square(color=BLUE)), run_time=1)\n"

    /// The next honest video: complete, every frame once, and a black background (not a poisoned config's).
    static func expectHonestVideo(_ farm: FarmHarness) async throws {
        let status = try await submit(farm, script(honest))
        try FaultToleranceTests.expectComplete(status, sceneFrames: [15])
        let folder = URL(fileURLWithPath: try #require(status.outputs).masterPath).deletingLastPathComponent()
        let frame = folder.appendingPathComponent("first-frame.rgb")
        try run("ffmpeg", ["-v", "error", "-i", folder.appendingPathComponent("video.mp4").path, "-frames:v", "1",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-y", frame.path])
        let pixels = try Data(contentsOf: frame)
        let red = stride(from: 0, to: pixels.count, by: 3).reduce(0) { $0 + Int(pixels[$1]) } / max(pixels.count / 3, 1)
        #expect(red < 16, "the honest video's background is black, not a poisoned config's red (mean red \(red))")
    }

    @Test func aScriptSeesNothingOfTheAgentAndCannotReachTheFarm() async throws {
        let farm = try await FarmHarness(agents: [[]], environment: ["FARM_TEST_SECRET": Self.secret])
        let http = farm.http.port ?? 0
        let zmqPort = Int(farm.zmq.split(separator: ":").last ?? "") ?? 0
        let snoop = Self.script("""
            def attempt(action):
                try:
                    return "ok: " + str(action())[:300]
                except BaseException as error:
                    return "refused: " + type(error).__name__

            def connect(port):
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    return "connected"

            def write_task_folder():
                # The script's own folder on the agent's disk (its working folder is a private copy in /tmp).
                with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "planted.py"), "w") as planted:
                    planted.write("x")
                return "written"

            class Snoop(Scene):
                def construct(self):
                    task = os.path.dirname(os.path.abspath(__file__))
                    found = {
                        "environment": json.dumps(dict(os.environ)),
                        "siblings": json.dumps(sorted(os.listdir(os.path.dirname(task)))),
                        "task": os.path.basename(task),
                        "processes": json.dumps(sorted(p for p in os.listdir("/proc") if p.isdigit())),
                        "uid": str(os.getuid()),
                        "pid": str(os.getpid()),
                        "home": attempt(lambda: open(os.path.expanduser("~root/.profile")).read()),
                        "shadow": attempt(lambda: open("/etc/shadow").read()),
                        "farm": attempt(lambda: os.listdir("\(farm.directory.appendingPathComponent("coordinator").path)")),
                        "http": attempt(lambda: connect(\(http))),
                        "zmq": attempt(lambda: connect(\(zmqPort))),
                        "metadata": attempt(lambda: connect_to("169.254.169.254")),
                        "write": attempt(write_task_folder),
                    }
                    report(found)

            def connect_to(host):
                with socket.create_connection((host, 80), timeout=2):
                    return "connected"
            """)
        let status = try await Self.submit(farm, snoop)
        #expect(status.state == .failed)
        let found = try Self.findings(status)
        #expect(found["environment"]?.contains(Self.secret) == false, "the agent's environment stays out")
        #expect(found["environment"]?.contains(farm.zmq) == false, "no coordinator address")
        #expect(found["siblings"] == "[\"\(found["task"] ?? "")\"]", "only its own task folder: \(found["siblings"] ?? "")")
        #expect(found["processes"] == "[]", "no process of the agent or other tasks is visible")
        #expect(found["pid"] == "1", "the render is its own PID namespace's init")
        #expect(found["uid"] == "1000")
        for key in ["home", "shadow", "farm", "http", "zmq", "metadata", "write"] {
            #expect(found[key]?.hasPrefix("refused") == true, "\(key): \(found[key] ?? "")")
        }
        let everything = try await farm.send("GET", "/v1/videos/\(status.id)")
        #expect(!String(decoding: everything.body, as: UTF8.self).contains(Self.secret))
        try await Self.expectHonestVideo(farm)
    }

    @Test func forksLeftoversAndPoisonedConfigurationDieWithTheirTask() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let marker = "77\(Int.random(in: 10_000...99_999))"
        let forky = Self.script("""
            class Forky(Scene):
                def construct(self):
                    subprocess.Popen(["sleep", "\(marker)1"], start_new_session=True)
                    forked = 0
                    for _ in range(900):
                        try:
                            pid = os.fork()
                        except OSError:
                            break
                        if pid == 0:
                            os.execvp("sleep", ["sleep", "\(marker)"])
                        forked += 1
                    report({"forked": str(forked)})
            """)
        let forked = try await Self.submit(farm, forky)
        #expect(forked.state == .failed)
        let count = Int(try Self.findings(forked)["forked"] ?? "") ?? -1
        #expect((50..<900).contains(count), "a process ceiling stopped the fork loop after \(count) forks")

        let poison = Self.script("""
            class Poison(Scene):
                def construct(self):
                    folder = os.path.expanduser("~/.config/manim")
                    os.makedirs(folder, exist_ok=True)
                    with open(os.path.join(folder, "manim.cfg"), "w") as config:
                        config.write("[CLI]\\nbackground_color = RED\\n")
                    with open("/tmp/manim.cfg", "w") as config:
                        config.write("[CLI]\\nbackground_color = RED\\n")
                    subprocess.Popen(["sleep", "\(marker)2"], start_new_session=True)
                    for pid in range(2, 40000):
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    self.play(FadeIn(Dot()), run_time=0.5)
            """)
        let poisoned = try await Self.submit(farm, poison)
        try FaultToleranceTests.expectComplete(poisoned, sceneFrames: [8])  // harmless: it rendered, and nothing else
        // Whatever the scripts started is gone once their tasks ended.
        var leftovers = Self.processes(matching: "sleep \(marker)")
        for _ in 0..<100 where !leftovers.isEmpty {
            try await Task.sleep(for: .milliseconds(50))
            leftovers = Self.processes(matching: "sleep \(marker)")
        }
        #expect(leftovers.isEmpty, "\(leftovers.count) processes outlived their task: \(leftovers.prefix(3))")
        try await Self.expectHonestVideo(farm)
        let workFolder = farm.directory.appendingPathComponent("agent-0")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: workFolder.path)) ?? []
        #expect(left.isEmpty, "task folders are deleted after their task: \(left)")
    }

    /// Frames come through shared memory the script's process can reach (`FrameRing`): it can neither resize it
    /// (sealed; a truncated mapping would crash the agent reading it) nor name a slot that is not there.
    @Test func theSharedFrameRingCannotBeResizedOrForged() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let resizer = Self.script("""
            class Resizer(Scene):
                def construct(self):
                    ring = sys.modules["__main__"].RING
                    found = {"ring": "none" if ring is None else str(ring.slot_bytes)}
                    for size in (1, 1 << 34):
                        try:
                            ring.memory.resize(size)
                            found[str(size)] = "resized"
                        except Exception as error:
                            found[str(size)] = type(error).__name__
                    report(found)
            """)
        let resized = try Self.findings(try await Self.submit(farm, resizer))
        #expect(resized["ring"] != "none", "renders get a frame ring: \(resized)")
        #expect(resized["1"] != "resized" && resized["17179869184"] != "resized", "the ring's size is sealed: \(resized)")

        let forger = Self.script("""
            class SlotForger(Scene):
                def construct(self):
                    stream = sys.modules["__main__"].FRAME_STREAM
                    stream.write(b"FRSH" + struct.pack("<IIIdI", 854, 480, 1, 15.0, 7))
                    stream.flush()
                    self.play(FadeIn(Dot()), run_time=0.5)
            """)
        let forged = try await Self.submit(farm, forger)
        #expect(forged.state == .failed && forged.error?.contains("slot 7") == true, "\(forged.error ?? "")")
        let honest = try await Self.submit(farm, Self.script("""
            class Honest(Scene):
                def construct(self):
                    self.play(FadeIn(Dot()), run_time=0.5)
            """))
        try FaultToleranceTests.expectComplete(honest, sceneFrames: [8])
        #expect(farm.coordinator.isRunning && farm.agents.allSatisfy(\.isRunning))
    }

    @Test func forgedStreamRecordsAndAFullDiskFailOnlyTheirVideo() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let forger = Self.script("""
            class Forger(Scene):
                def construct(self):
                    header = b"FRAM" + struct.pack("<IIId", 0xFFFFFFFF, 0xFFFFFFFF, 1, 15.0)
                    plan = b"PLAN" + struct.pack("<I", 2) + b"{}"
                    for fd in range(0, 1024):
                        for record in (header, plan):
                            try:
                                os.write(fd, record)
                            except OSError:
                                pass
                    self.play(FadeIn(Dot()), run_time=0.5)
            """)
        let forged = try await Self.submit(farm, forger)
        #expect(forged.state == .failed)
        #expect(forged.error?.contains("frame header") == true || forged.error?.contains("stream") == true,
                "\(forged.error ?? "")")

        let filler = Self.script("""
            def fill(folder):
                chunk = b"x" * (64 << 20)
                written = 0
                try:
                    for index in range(100):
                        with open(os.path.join(folder, f"fill-{index}"), "wb") as out:
                            for _ in range(8):
                                out.write(chunk)
                                written += len(chunk)
                except OSError as error:
                    return f"stopped after {written >> 20} MiB: {type(error).__name__} {error.errno}"
                return f"wrote {written >> 20} MiB"

            class Filler(Scene):
                def construct(self):
                    found = {"tmp": fill("/tmp"), "task": fill(os.path.dirname(os.path.abspath(__file__)))}
                    report(found)
            """)
        let filled = try await Self.submit(farm, filler)
        let found = try Self.findings(filled)
        #expect(found["tmp"]?.hasPrefix("stopped after") == true, "\(found["tmp"] ?? "")")
        #expect(found["task"]?.hasPrefix("stopped after 0 MiB") == true, "the task folder is read-only: \(found["task"] ?? "")")
        #expect(farm.coordinator.isRunning && farm.agents.allSatisfy(\.isRunning))
        try await Self.expectHonestVideo(farm)
    }
}
