import Coordinator
import FarmModel
import FarmProtocol
@testable import FarmStorage
import Foundation
import Logging
import PostgresNIO
import Testing

/// The farm on PostgreSQL: outages of the database and of the active coordinator.
@Suite(.serialized) struct PostgresFarmTests {
    static let postgresScript = FarmHarness.repository.appendingPathComponent("scripts/test-postgres.sh").path

    @Test func aPostgresRestartDuringARenderLosesNothing() async throws {
        let url = try await TestPostgres.freshDatabase()
        let farm = try await FarmHarness(agents: [[], []], coordinatorArguments: ["--database", url])
        let id = try await FaultToleranceTests.submit(farm)
        _ = try await farm.waitFor(id) { status in status.scenes.contains { $0.state == .running && $0.framesDone >= 5 } }

        try run(Self.postgresScript, ["halt"])
        defer { _ = try? run(Self.postgresScript, ["start"]) }
        // While the database is down nothing is acknowledged that could be lost.
        let (code, body) = try await farm.submit(SubmitRequest(script: FaultToleranceTests.twoLongScenes, quality: .low))
        #expect(code == 503, "\(String(decoding: body, as: UTF8.self))")
        try await Task.sleep(for: .seconds(1))
        try run(Self.postgresScript, ["start"])

        let status = try await farm.waitUntilFinal(id)
        try FaultToleranceTests.expectComplete(status)
        // The store caught up: a fresh read from PostgreSQL says the same.
        try await Task.sleep(for: .seconds(1))
        let listed: VideoPage = try await farm.get("/v1/videos")
        #expect(listed.videos.map(\.id) == [id])
        #expect(listed.videos.first?.state == .done)
        let stored: VideoStatus = try await farm.get("/v1/videos/\(id)")
        #expect(stored.scenes.map(\.state) == [.done, .done])
    }

    @Test func aStandbyCoordinatorTakesOverWhenTheLeaderDies() async throws {
        let url = try await TestPostgres.freshDatabase()
        let farm = try await FarmHarness(agents: [[], []], coordinatorArguments: ["--database", url], standby: true)
        let id = try await FaultToleranceTests.submit(farm)
        _ = try await farm.waitFor(id) { status in status.scenes.contains { $0.state == .running && $0.framesDone >= 5 } }
        farm.killCoordinator()
        let killedAt = ContinuousClock.now
        try await farm.awaitStandbyTakeover()
        print("leader killed → standby serving after \(ContinuousClock.now - killedAt)")
        let status = try await farm.waitUntilFinal(id)
        try FaultToleranceTests.expectComplete(status)
    }

    /// A leader whose lock session is cut and whose lock another coordinator then takes must stop
    /// at once (two leaders must never act together): its services shut down gracefully and it
    /// exits with status 75, for its supervisor to restart it as a standby.
    @Test func aLeaderWhoseLockIsTakenStepsDownWithStatus75() async throws {
        let url = try await TestPostgres.freshDatabase()
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: ["--database", url], standby: true)
        let leader = farm.coordinator
        let store = try PostgresStore.running(url: url, logger: Logger(label: "test.lease"))
        let ready = farm.directory.appendingPathComponent("ready-standby.json")
        // Cut the session holding the leader lock (the leader's, until the standby has served) and
        // give the standby a few seconds to take the lock; the leader may win the race back, so repeat.
        var cuts = 0
        while !FileManager.default.fileExists(atPath: ready.path) && leader.isRunning && cuts < 8 {
            cuts += try await store.terminateLeaderLockHolders()
            let deadline = ContinuousClock.now + .seconds(5)
            while !FileManager.default.fileExists(atPath: ready.path) && leader.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        // The leader may have stopped a moment before the standby wrote that it serves.
        let served = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: ready.path) && ContinuousClock.now < served { try await Task.sleep(for: .milliseconds(100)) }
        try #require(FileManager.default.fileExists(atPath: ready.path), "the standby never took the lock (\(cuts) cuts)")
        let deadline = ContinuousClock.now + .seconds(20)
        while leader.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!leader.isRunning, "the deposed leader kept running")
        #expect(leader.terminationReason == .exit && leader.terminationStatus == 75)
        try await farm.awaitStandbyTakeover()
        #expect(try await farm.stats().activeVideos == 0, "the new leader serves")
    }
}

extension PostgresStore {
    /// Ends the database sessions that hold the coordinators' leader lock; returns how many.
    func terminateLeaderLockHolders() async throws -> Int {
        let key = PostgresLeaderLease.lockKey
        let rows = try await client.query("""
            SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = \(key)
            """, logger: Logger(label: "test.lease"))
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
