import FarmModel
import Foundation
import Testing

/// Backups restored for real: a farm on PostgreSQL renders, is backed up mid-render, loses its database
/// and its data folder, is restored into a new PostgreSQL database and folder, and serves what it had
/// finished and finishes what it had started without rendering accepted work again.
@Suite(.serialized) struct BackupRestoreTests {
    static let coordinatorCLI = "\(FarmHarness.binaries)/farm-coordinator"

    @Test func aFarmRestoredIntoANewDatabaseAndFolderServesAndResumesWithoutRerendering() async throws {
        let url = try await TestPostgres.freshDatabase()
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ["--database", url])
        let data = farm.directory.appendingPathComponent("coordinator")

        // A finished video, and one interrupted with its first scene accepted and its second rendering.
        let (codeA, bodyA) = try await farm.submit(SubmitRequest(script: APIFixture.script, scriptName: "hello.py", quality: .low))
        #expect(codeA == 201)
        let finished = try await farm.waitUntilFinal(try farm.decodeStatus(bodyA).id)
        #expect(finished.state == .done)
        let playlist = try await farm.send("GET", "/v1/videos/\(finished.id)/master.m3u8")
        #expect(playlist.status == 200)
        // Slower than FaultToleranceTests' scenes: at -ql a 6-second scene can render between two looks at its progress.
        let longer = FaultToleranceTests.twoLongScenes.replacingOccurrences(of: "run_time=2", with: "run_time=6")
        let (codeB, bodyB) = try await farm.submit(SubmitRequest(script: longer, scriptName: "long.py", quality: .low, split: false))
        #expect(codeB == 201)
        let interrupted = try farm.decodeStatus(bodyB).id
        let midway = try await farm.waitFor(interrupted) { status in
            status.scenes.count == 2 && status.scenes[0].state == .done && status.scenes[1].state == .running && status.scenes[1].framesDone >= 3
        }
        let firstScene = try #require(midway.scenes.first)
        // Frozen, so the second scene is still in flight when the backup is taken: at -ql it renders within a second.
        farm.signalAgent(0, SIGSTOP)

        // Backed up while it runs, then everything is lost.
        let backup = farm.directory.appendingPathComponent("backup")
        let backedUp = try run(Self.coordinatorCLI, ["backup", "--data-dir", data.path, "--database", url, "--to", backup.path]).stdout
        #expect(backedUp.contains("backup: postgres database and"), "\(backedUp)")
        farm.killCoordinator()
        farm.killAgents()
        let name = try #require(URLComponents(string: url)?.path.dropFirst())
        try run("psql", [try TestPostgres.url, "-q", "-c", "DROP DATABASE \(name) WITH (FORCE)"])
        try FileManager.default.removeItem(at: data)

        // A damaged backup is refused before anything is written.
        let manifest = backup.appendingPathComponent("manifest.json")
        let fresh = try await TestPostgres.freshDatabase()
        let published = try #require(try FileManager.default.subpathsOfDirectory(atPath: backup.appendingPathComponent("files").path)
            .first { $0.hasSuffix("master.m3u8") })
        let victim = backup.appendingPathComponent("files").appendingPathComponent(published)
        let original = try Data(contentsOf: victim)
        try Data("#EXTM3U\n# tampered\n".utf8).write(to: victim)
        let refused = try runStatus(Self.coordinatorCLI, ["restore", "--data-dir", data.path, "--database", fresh, "--from", backup.path])
        #expect(refused.status != 0 && refused.stderr.contains("does not match its checksum"), "\(refused.stderr)")
        try original.write(to: victim)
        try FileManager.default.removeItem(at: data)

        // Restored into a new database and folder, timed: what the runbook calls the restore time.
        let started = ContinuousClock.now
        let restored = try run(Self.coordinatorCLI, ["restore", "--data-dir", data.path, "--database", fresh, "--from", backup.path]).stdout
        print("restore of \(try Data(contentsOf: manifest).count) bytes of manifest: \(restored.trimmingCharacters(in: .whitespacesAndNewlines)) (\(ContinuousClock.now - started))")
        #expect(restored.contains("checked"), "\(restored)")
        let again = try runStatus(Self.coordinatorCLI, ["restore", "--data-dir", data.path, "--database", fresh, "--from", backup.path])
        #expect(again.status != 0 && again.stderr.contains("is not empty"), "a restore never writes over a farm: \(again.stderr)")

        try await farm.restartCoordinator(overriding: ["--database", fresh])
        try farm.startAgent(index: 0)
        let served = try await farm.send("GET", "/v1/videos/\(finished.id)/master.m3u8")
        #expect(served.status == 200 && served.body == playlist.body, "the finished video is served as before")
        let done = try await farm.waitUntilFinal(interrupted)
        try FaultToleranceTests.expectComplete(done, sceneFrames: [270, 270])
        let first = try #require(done.scenes.first)
        #expect(first.attempt == firstScene.attempt && first.agent == firstScene.agent,
                "the accepted scene was not rendered again: attempt \(first.attempt), was \(firstScene.attempt)")
        let agentLogs = try FileManager.default.contentsOfDirectory(at: farm.directory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("agent-0-1") }
        let rendered = try agentLogs.map { try String(contentsOf: $0, encoding: .utf8) }.joined()
        #expect(!rendered.contains("scene=First"), "the restored farm's agent never rendered the accepted scene: \(rendered.suffix(1_000))")
        #expect(rendered.contains("scene=Second"), "it rendered the interrupted one")
    }
}
