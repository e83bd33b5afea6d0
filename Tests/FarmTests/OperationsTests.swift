import FarmLogging
import FarmModel
import Foundation
import Logging
import Testing

/// What an on-call engineer relies on: JSON log lines that tie a coordinator's line to the agent's,
/// the metrics the alert rules and the dashboard read, and those rules and that dashboard checked
/// by promtool (`deploy/monitoring/check.sh`).
@Suite(.serialized) struct OperationsTests {
    static func jsonLines(_ file: URL) throws -> [[String: Any]] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
        }
    }

    @Test func logLinesAreJSONWithTheIDsThatTieACoordinatorsLineToTheAgents() async throws {
        let farm = try await FarmHarness(agents: [["--log-format", "json"]], coordinatorArguments: ["--log-format", "json"])
        let (code, body) = try await farm.submit(SubmitRequest(script: APIFixture.script, scriptName: "hello.py", quality: .low, split: false))
        #expect(code == 201)
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        #expect(status.state == .done)

        let coordinator = try Self.jsonLines(farm.directory.appendingPathComponent("coordinator-0.log"))
        let agentLog = try #require(try FileManager.default.contentsOfDirectory(at: farm.directory, includingPropertiesForKeys: nil)
            .first { $0.lastPathComponent.hasPrefix("agent-0-") })
        let agent = try Self.jsonLines(agentLog)
        for (line, service) in coordinator.map({ ($0, "coordinator") }) + agent.map({ ($0, "agent") }) {
            for key in ["time", "level", "service", "host", "logger", "message"] {
                #expect(line[key] is String, "\(key) in \(line)")
            }
            #expect(line["service"] as? String == service)
            #expect((line["time"] as? String)?.hasSuffix("Z") == true)
        }
        let rendered = try #require(coordinator.first { $0["message"] as? String == "scene rendered" }, "\(coordinator.map { $0["message"] ?? "" })")
        #expect(rendered["video"] as? String == status.id, "the video is named, from the task's id: \(rendered)")
        let task = try #require(rendered["task"] as? String)
        #expect(rendered["attempt"] as? Int == 1)
        let agentID = try #require(rendered["agent"] as? String)
        let work = try #require(agent.first { $0["message"] as? String == "rendering" && $0["task"] as? String == task },
                                "the agent's line about the same task")
        #expect(work["agent"] as? String == agentID && work["video"] as? String == status.id && work["attempt"] as? Int == 1, "\(work)")
        #expect((work["fields"] as? [String: Any])?["scene"] as? String == "Hello")
    }

    @Test func theHandlerEscapesWhatItIsGiven() throws {
        let lines = LockedLines()
        var handler = JSONLogHandler(label: "test", service: "coordinator", host: "h", metadataProvider: nil) { lines.append($0) }
        handler.metadata = ["agent": "a-1"]
        var logger = Logger(label: "test") { _ in handler }
        logger.logLevel = .debug
        logger.error("quote \" backslash \\ newline \n tab \t nul \u{0} end", metadata: ["task": "v1x-3", "attempt": "2", "n": ["a", ["b": "c"]]])
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1, "one line: \(line)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "quote \" backslash \\ newline \n tab \t nul \u{0} end")
        #expect(object["video"] as? String == "v1x" && object["task"] as? String == "v1x-3" && object["attempt"] as? Int == 2)
        #expect(object["agent"] as? String == "a-1" && object["level"] as? String == "error")
        #expect(((object["fields"] as? [String: Any])?["n"] as? [Any])?.count == 2)
    }

    @Test func theAlertRulesTheirTestsAndTheDashboardPassPromtoolAndReadMetricsTheCoordinatorExports() async throws {
        let check = FarmHarness.repository.appendingPathComponent("deploy/monitoring/check.sh").path
        let (status, output, errors) = try runStatus(check, [])
        #expect(status == 0, "\(output.suffix(3_000)) \(errors.suffix(2_000))")
        #expect(output.contains("SUCCESS: 12 rules found") && output.contains("Unit Testing:  alerts.test.yml\n  SUCCESS"), "\(output)")
        let used = Set(output.components(separatedBy: "metrics:\n").last?.split(separator: "\n").map(String.init) ?? [])
        #expect(used.count >= 15, "\(used)")

        let farm = try await FarmHarness(agents: [[]])
        let (code, body) = try await farm.submit(SubmitRequest(script: APIFixture.script, scriptName: "hello.py", quality: .low, split: false))
        #expect(code == 201)
        let video = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        #expect(video.state == .done)
        // The counters are published on the engine's next tick.
        var exposition = ""
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            exposition = String(decoding: try await farm.send("GET", "/metrics").body, as: UTF8.self)
            if exposition.contains("farm_attempts_total{outcome=\"done\"} 1") { break }
            try await Task.sleep(for: .milliseconds(100))
        } while ContinuousClock.now < deadline
        let exported = Set(exposition.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            String(line.prefix { $0 != "{" && $0 != " " })
        })
        #expect(used.subtracting(exported).isEmpty, "the rules or the dashboard read metrics the coordinator does not export: \(used.subtracting(exported).sorted())")
        #expect(exposition.contains("farm_attempts_total{outcome=\"done\"} 1"), "\(exposition.split(separator: "\n").filter { $0.contains("attempts") })")
        #expect(exposition.contains("farm_frames_rendered_total{quality=\"low\"} \(video.frames ?? -1)\n"), "\(exposition.split(separator: "\n").filter { $0.contains("frames_rendered") })")
        let acquired = exposition.split(separator: "\n").first { $0.hasPrefix("farm_leadership_acquired_timestamp_seconds ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        #expect(abs(acquired - Date().timeIntervalSince1970) < 300, "leadership taken at start: \(acquired)")
    }
}

/// Lines a test handler wrote, from any thread.
final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
