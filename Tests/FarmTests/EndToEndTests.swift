import Coordinator
import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Testing

/// Real processes, real ZeroMQ, real Manim and libav. Serialized: each test
/// renders, and the machine has two cores.
@Suite(.serialized) struct EndToEndTests {
    /// Frame counts of each scene from a plain `manim render` of the same script and settings.
    static func plainManimFrameCounts(_ script: URL, scenes: [String]) throws -> [Int] {
        let media = FileManager.default.temporaryDirectory.appendingPathComponent("farm-plain-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: media) }
        let manim = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("manim").path
        try run(manim, ["render", "-ql", "--disable_caching", "--silent", "--progress_bar", "none",
                        "--media_dir", media.path, script.path] + scenes)
        let folder = media.appendingPathComponent("videos/\(script.deletingPathExtension().lastPathComponent)/480p15")
        return try scenes.map { try FFprobe.frameCount(folder.appendingPathComponent("\($0).mp4").path) }
    }

    @Test func aThreeSceneScriptBecomesAContinuousHLSLadder() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        let script = try String(contentsOf: FarmHarness.example, encoding: .utf8)
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: "lesson.py", quality: .low))
        #expect(code == 201)
        let submitted = try farm.decodeStatus(body)
        #expect(submitted.plan != nil, "a video is planned before its scenes are rendered")
        #expect(submitted.renditions == ["480p", "360p", "240p"])

        // Followed on a terminal (a pseudo-terminal from `script`): a bar, frames done of expected, the time left.
        let farmCLI = "\(FarmHarness.binaries)/farm status \(submitted.id) --wait --coordinator \(farm.http.absoluteString) --api-key \(try farm.adminKey)"
        let terminal = try run("script", ["-qec", farmCLI, "/dev/null"]).stdout
        #expect(terminal.contains("\u{1B}[2K"), "redrawn in place: \(terminal.suffix(800))")
        let bars = terminal.components(separatedBy: "\u{1B}[2K").filter { $0.hasPrefix("\(submitted.id): ") && $0.contains("] ") }
        #expect(bars.contains { $0.contains("[") && $0.contains("-]") && $0.contains("/") && $0.contains(" frames") }, "a bar part full: \(bars.suffix(5))")
        #expect(bars.contains { $0.contains(" left") }, "with the time left: \(bars.suffix(5))")

        let status = try await farm.waitUntilFinal(submitted.id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.logTail ?? "")" })")
        #expect(status.plan?.state == .done)
        #expect(status.scenes.map(\.name) == ["Intro", "Proof", "Formula"], "short scenes are rendered whole, in order")
        let outputs = try #require(status.outputs)
        let published = URL(fileURLWithPath: outputs.masterPath).deletingLastPathComponent()

        let expected = try Self.plainManimFrameCounts(FarmHarness.example, scenes: ["Intro", "Proof", "Formula"])
        let total = expected.reduce(0, +)
        #expect(status.frames == total)
        #expect(status.scenes.map(\.frames) == expected)
        // Scene starts on the whole video's timeline.
        let sceneStarts = expected.indices.map { Double(expected[..<$0].reduce(0, +)) / 15 }

        let master = try String(contentsOf: published.appendingPathComponent("master.m3u8"), encoding: .utf8)
        let check = try PlaylistCheck(master: master, folder: published)
        #expect(check.variants.map(\.resolution) == ["854x480", "640x360", "428x240"])
        var keyframesPerRendition: [[Double]] = []
        var extinfsPerRendition: [[Double]] = []
        for variant in check.variants {
            let path = published.appendingPathComponent(variant.uri).path
            #expect(try FFprobe.decodeErrors(path).isEmpty, "\(variant.uri) decodes cleanly")
            let times = try FFprobe.frameTimes(path)
            #expect(times.count == total, "\(variant.uri) has every frame of every scene")
            let gaps = times.enumerated().filter { abs($1 - Double($0) / 15) > 0.0001 }
            #expect(gaps.isEmpty, "timestamps continue across scene joins in \(variant.uri): \(gaps.prefix(3))")
            let keyframes = try FFprobe.keyframeTimes(path)
            for start in sceneStarts {
                #expect(keyframes.contains { abs($0 - start) < 0.001 }, "an IDR opens the scene at \(start) s")
            }
            keyframesPerRendition.append(keyframes)
            extinfsPerRendition.append(try check.media(variant).extinfs)
            // Declared bit rates come from the written segments.
            let measured = try check.measuredAverageBandwidth(variant)
            #expect(abs(Double(variant.averageBandwidth) - measured) / measured < 0.01)
            #expect(variant.bandwidth >= variant.averageBandwidth)
            let peak = try check.rfcPeakBandwidth(variant)
            #expect(Double(variant.bandwidth) >= peak && Double(variant.bandwidth) <= peak + 1,
                    "\(variant.uri) declares BANDWIDTH \(variant.bandwidth), the RFC 8216 peak is \(peak)")
            #expect(variant.codecs.hasPrefix("avc1.64"))
            #expect(variant.frameRate == "15.000")
        }
        #expect(Set(keyframesPerRendition.map { $0.map { Int(($0 * 1_000).rounded()) } }).count == 1,
                "IDRs fall at identical times in every rendition")
        #expect(Set(extinfsPerRendition).count == 1, "segment boundaries are identical in every rendition")
        #expect(try FFprobe.frameCount(outputs.mp4Path) == total)

        let (served, playlist) = try await farm.send("GET", outputs.master)
        #expect(served == 200)
        #expect(String(decoding: playlist, as: UTF8.self) == master)
        let (escaped, _) = try await farm.send("GET", "/v1/videos/\(status.id)/..%2F..%2Ffarm.sqlite")
        #expect(escaped == 404)
    }

    @Test func badInputGetsClearErrorsAndOtherVideosAreUnaffected() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        func refusal(_ request: SubmitRequest) async throws -> (Int, String) {
            let (code, body) = try await farm.submit(request)
            return (code, String(decoding: body, as: UTF8.self))
        }
        let syntax = try await refusal(SubmitRequest(script: "from manim import *\nclass A(Scene):\n    def construct(self)\n        pass\n"))
        #expect(syntax.0 == 422)
        #expect(syntax.1.contains("line 3"))
        let unknown = try await refusal(SubmitRequest(script: "from manim import *\nclass A(Scene):\n    def construct(self): pass\n", scenes: ["B"]))
        #expect(unknown.0 == 422)
        #expect(unknown.1.contains("unknown scene(s) B"))
        let empty = try await refusal(SubmitRequest(script: "  \n"))
        #expect(empty.0 == 422)
        #expect(empty.1.contains("empty"))
        let huge = try await refusal(SubmitRequest(script: "# " + String(repeating: "x", count: 3 << 20)))
        #expect(huge.0 == 413)
        let badLadder = try await refusal(SubmitRequest(script: "from manim import *\nclass A(Scene):\n    def construct(self): pass\n", ladder: [481]))
        #expect(badLadder.0 == 422)

        let raising = """
            from manim import *

            class Fine(Scene):
                def construct(self):
                    self.play(Create(Square()), run_time=0.5)

            class Broken(Scene):
                def construct(self):
                    self.play(Create(Circle()), run_time=0.5)
                    raise ValueError("the proof does not hold")
            """
        let good = "from manim import *\n\nclass Good(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.5)\n"
        let (brokenCode, brokenBody) = try await farm.submit(SubmitRequest(script: raising, scriptName: "broken.py", quality: .low))
        let (goodCode, goodBody) = try await farm.submit(SubmitRequest(script: good, scriptName: "good.py", quality: .low))
        #expect(brokenCode == 201 && goodCode == 201)
        let broken = try await farm.waitUntilFinal(try farm.decodeStatus(brokenBody).id)
        let fine = try await farm.waitUntilFinal(try farm.decodeStatus(goodBody).id)
        #expect(broken.state == .failed)
        #expect(broken.error?.contains("Broken") == true)
        let failedScene = try #require(broken.scenes.first { $0.name == "Broken" })
        #expect(failedScene.error?.failureClass == .scriptError)
        #expect(failedScene.error?.logTail.contains("the proof does not hold") == true)
        #expect(failedScene.attempt == 1, "a script error is not retried")
        // A teammate reads the error but not the log tail, which can quote the owner's script and data.
        let (_, userBody) = try await farm.send("POST", "/v1/users", body: JSONEncoder().encode(CreateUserRequest(name: "teammate", team: "default", role: .viewer)))
        let teammate = try JSONDecoder.farm.decode(UserInfo.self, from: userBody).id
        let (_, keyBody) = try await farm.send("POST", "/v1/users/\(teammate)/keys", body: JSONEncoder().encode(CreateKeyRequest(name: "t")))
        let teammateKey = try JSONDecoder.farm.decode(CreatedKey.self, from: keyBody).key
        let (seenCode, seenBody) = try await farm.send("GET", "/v1/videos/\(broken.id)", apiKey: teammateKey)
        let seen = try farm.decodeStatus(seenBody)
        #expect(seenCode == 200 && seen.scenes.first { $0.name == "Broken" }?.error?.message == failedScene.error?.message)
        #expect(seen.scenes.first { $0.name == "Broken" }?.error?.logTail == "", "\(String(decoding: seenBody, as: UTF8.self).prefix(300))")
        #expect(fine.state == .done)
        #expect(fine.frames == 8)

        // The CLI's exit codes mean something.
        let badFile = farm.directory.appendingPathComponent("bad.py")
        try "class A(Scene):\n  def construct(self)\n".write(to: badFile, atomically: true, encoding: .utf8)
        let refused = try farm.cli(["submit", badFile.path, "--coordinator", farm.http.absoluteString])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("line 2"))
        let unreachable = try farm.cli(["agents", "--coordinator", "http://127.0.0.1:9"])
        #expect(unreachable.status == 3)
        let failedWait = try farm.cli(["status", broken.id, "--json", "--coordinator", farm.http.absoluteString])
        #expect(failedWait.status == 0)
        #expect(failedWait.stdout.contains("\"failed\""))
        // `--wait` follows the video's event stream to its end and exits as its outcome says.
        let followed = try farm.cli(["status", broken.id, "--wait", "--coordinator", farm.http.absoluteString])
        #expect(followed.status == 1 && followed.stderr.contains("failed") && !followed.stderr.contains("by polling"), "\(followed.stderr)")

        // Without a key the CLI says how to get one; `farm login` saves it for later commands.
        let url = farm.http.absoluteString
        let keyless = try farm.cli(["agents", "--coordinator", url], apiKey: "")
        #expect(keyless.status == 2)
        #expect(keyless.stderr.contains("farm login"), "\(keyless.stderr)")
        let login = try farm.cli(["login", try farm.adminKey, "--coordinator", url], apiKey: "")
        #expect(login.status == 0, "\(login.stderr)")
        let whoami = try farm.cli(["whoami", "--coordinator", url.replacingOccurrences(of: "127.0.0.1", with: "localhost")], apiKey: "")
        #expect(whoami.status == 0, "\(whoami.stderr)")
        #expect(whoami.stdout.contains("admin"))
        let log = try String(contentsOf: farm.directory.appendingPathComponent("coordinator-0.log"), encoding: .utf8)
        #expect(log.contains("admin.key"), "the log says where the first key is")
        #expect(!log.contains(try farm.adminKey), "and never the key")
    }

    @Test func latexScenesWaitForAnAgentWithLaTeX() async throws {
        let farm = try await FarmHarness(agents: [["--latex", "no"]])
        let script = try String(contentsOf: FarmHarness.example, encoding: .utf8)
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scenes: ["Formula"], quality: .low))
        #expect(code == 201)
        let id = try farm.decodeStatus(body).id
        try await Task.sleep(for: .seconds(2))
        let waiting: VideoStatus = try await farm.get("/v1/videos/\(id)")
        let first = try #require(waiting.plan ?? waiting.scenes.first, "the plan (or the scene) is listed")
        #expect(first.state == .pending)
        #expect(first.waitingFor?.contains("LaTeX") == true)

        let (cancelled, _) = try await farm.send("DELETE", "/v1/videos/\(id)")
        #expect(cancelled == 200)
        let final = try await farm.waitUntilFinal(id, timeout: .seconds(10))
        #expect(final.state == .cancelled)
    }
}
