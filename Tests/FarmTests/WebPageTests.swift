import FarmModel
import Foundation
import Testing

/// The web pages in a real browser: headless Chromium (Debian's, driven by selenium) signs in, submits
/// the bundled example through the form with the keyboard only, watches it render over Server-Sent
/// Events, plays it to its end, cancels another video and drains an agent; axe-core checks every page.
/// Screenshots of each page are kept in the farm's folder (`screenshots/`, kept with FARM_KEEP_TEST_DATA=1).
@Suite(.serialized) struct WebPageTests {
    /// Holds an agent slot without using the CPU until it is cancelled (not split: no planning pass runs it twice).
    static let sleeper = """
        import time
        from manim import *

        class Sleeper(Scene):
            def construct(self):
                time.sleep(600)
                self.wait(1)
        """

    @Test func aPersonSignsInSubmitsWatchesAndCancelsInTheBrowser() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        var request = SubmitRequest(script: Self.sleeper, scriptName: "sleeper.py", quality: .low, priority: -10, split: false)
        request.cache = false
        let (code, body) = try await farm.submit(request)
        #expect(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let sleeper = try farm.decodeStatus(body).id

        let screenshots = farm.directory.appendingPathComponent("screenshots")
        let walk = FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures/web_walk.py").path
        let lesson = FarmHarness.repository.appendingPathComponent("examples/lesson.py").path
        let output = try run(FarmHarness.python, [walk, farm.http.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")),
                                                  try farm.adminKey, lesson, sleeper, screenshots.path]).stdout
        let report = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output.prefix(2000))")
        #expect(report["error"] == nil, "the walk stopped: \(report["error"] ?? "") after \(report["steps"] ?? []); \(String(describing: report["console"]))")

        // Sign-in: a wrong key is refused on the page; the cookie is out of scripts' reach and this site's only.
        #expect((report["wrongKeyError"] as? String)?.contains("key") == true, "\(report["wrongKeyError"] ?? "")")
        let cookie = report["cookie"] as? [String: Any] ?? [:]
        #expect(cookie["httpOnly"] as? Bool == true && cookie["secure"] as? Bool == true && cookie["sameSite"] as? String == "Strict",
                "\(cookie)")
        #expect(cookie["readableByScript"] as? Bool == false)

        // Submitting: the scenes were discovered, the refusal shown beside its field with the focus on it.
        #expect(report["scenes"] as? [String] == ["Intro", "Proof", "Formula"])
        #expect(report["quality"] as? String == "low")
        #expect((report["priorityError"] as? String)?.contains("priority") == true, "\(report["priorityError"] ?? "")")
        #expect(report["priorityInvalid"] as? String == "true")
        #expect(report["focusAfterRefusal"] as? String == "priority")
        let order = report["tabOrder"] as? [String] ?? []
        let fields = ["script", "Intro", "Proof", "Formula", "quality", "ladder", "priority", "stillSeconds", "assets", "submit-button"]
        #expect(fields.allSatisfy(order.contains), "every field is reached by Tab: \(order)")
        let positions = fields.compactMap { field in order.firstIndex(of: field) }
        #expect(positions == positions.sorted(), "in the order they are shown: \(order)")

        // Watching: the bar moved through several values on the same page, to the end.
        let videoID = try #require(report["videoID"] as? String)
        let status = try await farm.waitUntilFinal(videoID)
        #expect(status.state == .done, "\(status.error ?? "")")
        let progress = (report["progress"] as? [[Any]] ?? []).compactMap { $0.first as? Double }
        let between = Set(progress.filter { $0 > 0 && $0 < Double(status.frames ?? 0) })
        #expect(between.count >= 2, "the bar advanced over the live stream: \(progress)")
        #expect(progress.last == Double(status.frames ?? -1), "and reached every frame: \(progress.suffix(3)) of \(status.frames ?? 0)")
        #expect(report["sameDocument"] as? Bool == true, "without reloading the page")
        let played = report["played"] as? [String: Any] ?? [:]
        #expect(played["ended"] as? Bool == true, "the page's player played to its end: \(played)")
        let duration = played["duration"] as? Double ?? 0
        #expect(abs(duration - (status.seconds ?? 0)) < 0.2, "for the video's whole length: \(duration) of \(status.seconds ?? 0) s")
        #expect((report["playedSource"] as? String)?.hasSuffix("master.m3u8") == true, "natively over HLS: \(report["playedSource"] ?? "")")

        // Cancelling from the dashboard, seen there over the stream; draining an agent from its page.
        #expect(report["cancelledRow"] as? String == "cancelled")
        #expect(try await farm.waitUntilFinal(sleeper, timeout: .seconds(30)).state == .cancelled)
        #expect(report["doneRow"] as? String == "done")
        #expect(report["drained"] as? Bool == true && report["resumed"] as? Bool == true)

        // Every page: no axe violations, under 100 KB before the video, first paint within a second.
        let axe = report["axe"] as? [String: [[String: Any]]] ?? [:]
        #expect(Set(axe.keys) == ["signin", "videos", "submit", "video", "videos-after", "agents"], "\(axe.keys.sorted())")
        for (page, violations) in axe {
            #expect(violations.isEmpty, "axe on \(page): \(violations)")
        }
        for (page, timing) in report["pages"] as? [String: [String: Any]] ?? [:] {
            let bytes = timing["bytes"] as? Int ?? .max
            #expect(bytes < 100_000, "\(page) weighs \(bytes) bytes: \(timing["resources"] ?? [])")
            let paint = timing["fcp"] as? Double ?? .infinity
            #expect(paint < 1_000, "\(page)'s first contentful paint took \(paint) ms")
        }
        for page in ["signin", "videos", "submit", "video", "agents"] {
            #expect(FileManager.default.fileExists(atPath: screenshots.appendingPathComponent("\(page).png").path), "a screenshot of \(page)")
        }
    }
}
