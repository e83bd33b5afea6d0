import Coordinator
import FarmModel
import FarmProtocol
import Foundation
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
        let listed: [VideoStatus] = try await farm.get("/v1/videos")
        #expect(listed.map(\.id) == [id])
        #expect(listed.first?.state == .done)
        #expect(listed.first?.scenes.map(\.state) == [.done, .done])
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
}
