@testable import Agent
import FarmModel
import Foundation
import Testing

/// The render environment is pinned (`python/requirements.lock`, with hashes) and known: each agent reports the
/// fingerprint of the packages Manim imports, a change behind the lock's back shows in it, and the scenes that
/// Pillow 13 broke render through the farm.
@Suite(.serialized) struct RenderEnvironmentTests {
    /// `name==version` of every package the lock pins.
    static func locked() throws -> [String: String] {
        let lock = try String(contentsOf: FarmHarness.repository.appendingPathComponent("python/requirements.lock"), encoding: .utf8)
        var pins: [String: String] = [:]
        for line in lock.split(separator: "\n") where !line.hasPrefix(" ") && !line.hasPrefix("#") && line.contains("==") {
            let pin = line.split(separator: " ")[0].split(separator: "=", omittingEmptySubsequences: true)
            pins[String(pin[0])] = String(pin[1])
        }
        return pins
    }

    @Test func theFingerprintCoversEveryPackageManimImportsAtTheLocksVersions() async throws {
        let pins = try Self.locked()
        #expect(pins["manim"] == "0.22.0" && pins["pillow"]?.hasPrefix("12.") == true, "\(pins)")
        let installed = await RenderEnvironment.detect(python: FarmHarness.python)
        #expect(installed.manimVersion == "0.22.0")
        let fingerprint = try #require(installed.fingerprint)
        #expect(fingerprint.count == 16 && fingerprint.allSatisfy(\.isHexDigit))
        #expect(installed.packages.count >= 20, "Manim's closure: \(installed.packages)")
        #expect(installed.packages.contains { $0.hasPrefix("manim-voiceover==") }, "narration's plugin is part of it")
        for package in installed.packages {
            let (name, version) = (String(package.split(separator: "=")[0]), String(package.split(separator: "=").last!))
            #expect(pins[name] == version, "\(name) \(version) is what the lock pins (\(pins[name] ?? "nothing"))")
        }
        #expect(await RenderEnvironment.detect(python: FarmHarness.python) == installed, "stable")

        // Pillow changed behind the lock's back (a distribution found first on the path): another fingerprint.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-env-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let distInfo = folder.appendingPathComponent("site/pillow-99.0.dist-info")
        try FileManager.default.createDirectory(at: distInfo, withIntermediateDirectories: true)
        try "Metadata-Version: 2.1\nName: pillow\nVersion: 99.0\n".write(to: distInfo.appendingPathComponent("METADATA"), atomically: true, encoding: .utf8)
        let wrapper = folder.appendingPathComponent("python")
        try "#!/bin/sh\nPYTHONPATH='\(folder.appendingPathComponent("site").path)' exec '\(FarmHarness.python)' \"$@\"\n"
            .write(to: wrapper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: wrapper.path)
        let drifted = await RenderEnvironment.detect(python: wrapper.path)
        #expect(drifted.packages.contains("pillow==99.0"), "\(drifted.packages)")
        #expect(drifted.fingerprint != nil && drifted.fingerprint != installed.fingerprint)
        #expect(drifted.identity == "0.22.0 env:\(drifted.fingerprint ?? "")")
    }

    /// Reported in the issue: with Pillow 13 these failed with "ValueError: Invalid mode for data type", in the farm and
    /// in plain Manim alike. Agents report their environment, and two installed from the lock report the same.
    @Test func theScenesPillow13BrokeRenderThroughTheFarmAndAgentsReportOneEnvironment() async throws {
        let farm = try await FarmHarness(agents: [[], []])
        let script = """
            from manim import *
            import numpy as np

            class Picture(Scene):
                def construct(self):
                    image = ImageMobject(np.uint8([[0, 100, 30, 200], [255, 0, 5, 33]]))
                    image.height = 4
                    self.add(image)
                    self.wait(0.4)

            class Zoomed(ZoomedScene):
                def construct(self):
                    self.add(Square())
                    self.activate_zooming(animate=False)
                    self.wait(0.4)
            """
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: "pillow.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let status = try await farm.waitUntilFinal(try farm.decodeStatus(body).id)
        #expect(status.state == .done, "\(status.error ?? "") \(status.scenes.map { "\($0.name): \($0.error?.message ?? "")" })")
        #expect(status.frames == 12)
        let agents: [AgentStatus] = try await farm.get("/v1/agents")
        #expect(agents.count == 2)
        #expect(Set(agents.map(\.environment)).count == 1 && agents.first?.environment?.count == 16, "\(agents.map(\.environment))")
    }
}
