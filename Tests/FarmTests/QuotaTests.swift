@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// Per-team quotas and rate limits, and listings a page at a time.
@Suite struct QuotaTests {
    /// Waits (polling the clock) until at least `seconds` remain in the current minute,
    /// so a test's submissions fall in one rate-limit window.
    static func awaitRoomInMinute(_ seconds: Int = 20) async throws {
        while Int(Date().timeIntervalSince1970) % 60 > 60 - seconds {
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    @Test func submissionsPerMinuteAre429WithRetryAfterAndSurviveARestart() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-quota-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Self.awaitRoomInMinute()
        let key = Mutex<String>("")
        try await APIFixture.with(folder: folder) { client, farm in
            let (_, annKey) = try await farm.user("ann", team: "physics", role: .creator)
            key.withLock { $0 = annKey }
            try await farm.setQuotas(team: "physics") { $0.submissionsPerMinute = 2 }
            for _ in 0..<2 {
                #expect(try await client.call(.post, "/v1/videos", key: annKey, body: SubmitRequest(script: APIFixture.script)).status == .created)
            }
            let refused = try await client.call(.post, "/v1/videos", key: annKey, body: SubmitRequest(script: APIFixture.script))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.text.contains("quota is 2 per minute"), "\(refused.text)")
            let retryAfter = try #require(refused.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...60).contains(retryAfter))
            // Another team has its own count.
            let (_, bobKey) = try await farm.user("bob", team: "chemistry", role: .creator)
            #expect(try await client.call(.post, "/v1/videos", key: bobKey, body: SubmitRequest(script: APIFixture.script)).status == .created)
        }
        // A new coordinator process over the same store: the minute's count is still there.
        try await APIFixture.with(folder: folder) { client, farm in
            let annKey = key.withLock { $0 }
            let refused = try await client.call(.post, "/v1/videos", key: annKey, body: SubmitRequest(script: APIFixture.script))
            #expect(refused.status == .tooManyRequests)
            let videos = try await client.call(.get, "/v1/videos", key: farm.adminKey).decode(VideoPage.self).videos
            #expect(videos.count == 3, "refusals stored nothing")
        }
    }

    @Test func aTeamsConcurrentVideosAreCapped() async throws {
        try await APIFixture.with { client, farm in
            let (_, key) = try await farm.user("ann", team: "physics", role: .creator)
            try await farm.setQuotas(team: "physics") { $0.concurrentVideos = 1 }
            let first = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: APIFixture.script))
            #expect(first.status == .created)
            let second = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: APIFixture.script))
            #expect(second.status == .tooManyRequests)
            #expect(second.text.contains("concurrent videos"))
            #expect(second.headers[.retryAfter] != nil)
            let id = try first.decode(VideoStatus.self).id
            #expect(try await client.call(.delete, "/v1/videos/\(id)", key: key).status == .ok)
            #expect(try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: APIFixture.script)).status == .created)
        }
    }

    @Test func aTeamOverItsDailyRenderTimeOrItsStorageIsRefusedWithTheNumbers() async throws {
        try await APIFixture.with { client, farm in
            let (_, key) = try await farm.user("ann", team: "physics", role: .creator)
            let team = try #require(try await farm.store.team("physics"))
            try await farm.setQuotas(team: "physics") { $0.renderSecondsPerDay = 600; $0.storageBytes = 10 << 20 }
            #expect(try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: APIFixture.script)).status == .created)

            _ = try await farm.store.addUsage(teamID: team.id, counter: UsageMeter.renderSeconds,
                                              windowStart: UsageMeter.day(of: Date()), amount: 600, discardBefore: nil)
            let tired = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: APIFixture.script))
            #expect(tired.status == .tooManyRequests)
            #expect(tired.text.contains("used 600 of its 600 render-seconds today"), "\(tired.text)")
            let retryAfter = try #require(tired.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...86_400).contains(retryAfter))

            try await farm.setQuotas(team: "physics") { $0.renderSecondsPerDay = 86_400 }
            _ = try await farm.store.addUsage(teamID: team.id, counter: UsageMeter.storageBytes, windowStart: 0,
                                              amount: Double(11 << 20), discardBefore: nil)
            let full = try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: APIFixture.script))
            #expect(full.status == .forbidden)
            #expect(full.text.contains("11 MiB of its 10 MiB"), "\(full.text)")
            #expect(try await client.call(.get, "/v1/videos", key: key).decode(VideoPage.self).videos.count == 1)
        }
    }

    @Test func listingsPageWithACursorAndRefuseHugeOrForgedValues() async throws {
        try await APIFixture.with { client, farm in
            let (_, key) = try await farm.user("ann", team: "physics", role: .creator)
            var submitted: [String] = []
            for index in 0..<7 {
                let script = APIFixture.script + "# take \(index)\n"
                submitted.append(try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: script)).decode(VideoStatus.self).id)
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await client.call(.get, "/v1/videos?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""), key: key)
                    .decode(VideoPage.self)
                seen += page.videos.map(\.id)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen == submitted.reversed(), "newest first, each once")
            for bad in ["limit=0", "limit=501", "limit=99999999999999999999", "limit=abc", "cursor=..%2Fx", "cursor=" + String(repeating: "v", count: 100)] {
                let response = try await client.call(.get, "/v1/videos?\(bad)", key: key)
                #expect(response.status == .badRequest, "\(bad)")
            }
        }
    }

    /// Two coordinators on one PostgreSQL (a leader and the standby that takes over), and a restart:
    /// the counters are the database's, so none of them loses an addition.
    @Test func usageCountersAddUpAcrossTwoCoordinatorsOnPostgres() async throws {
        let url = try await TestPostgres.freshDatabase()
        let logger = Logger(label: "test.quota")
        let (first, second) = (try PostgresStore.running(url: url, logger: logger), try PostgresStore.running(url: url, logger: logger))
        try await first.migrate()
        try await second.migrate()
        let team = try await Accounts(store: first).createTeam(CreateTeamRequest(name: "physics"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for store in [first, second] {
                group.addTask {
                    for _ in 0..<25 { _ = try await store.addUsage(teamID: team.id, counter: "c", windowStart: 600, amount: 1, discardBefore: nil) }
                }
            }
            try await group.waitForAll()
        }
        let restarted = try PostgresStore.running(url: url, logger: logger)
        #expect(try await restarted.usage(teamID: team.id, counter: "c", windowStart: 600) == 50)

        var limited = team
        limited.quotas.submissionsPerMinute = 2
        let now = Date(timeIntervalSince1970: 1_800_000_010)
        #expect(try await SubmissionRateLimit(store: first).admit(limited, now: now) == .admitted)
        #expect(try await SubmissionRateLimit(store: second).admit(limited, now: now) == .admitted)
        #expect(try await SubmissionRateLimit(store: restarted).admit(limited, now: now.addingTimeInterval(5))
                == .limited(retryAfter: 45, count: 3, limit: 2))
        #expect(try await SubmissionRateLimit(store: first).admit(limited, now: now.addingTimeInterval(60)) == .admitted, "a new minute")
    }
}
