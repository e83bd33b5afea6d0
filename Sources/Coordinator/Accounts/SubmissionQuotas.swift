import FarmModel
import FarmStorage
import Foundation

/// Why a team may not submit now, with the numbers.
enum QuotaRefusal: Equatable, CustomStringConvertible {
    case rate(retryAfter: Int, count: Int, limit: Int)
    case renderTime(usedSeconds: Double, limitSeconds: Double, retryAfter: Int)
    case storage(usedBytes: Double, limitBytes: Int64)

    /// Seconds after which trying again can succeed; `nil` when waiting does not help.
    var retryAfter: Int? {
        switch self {
        case .rate(let seconds, _, _), .renderTime(_, _, let seconds): seconds
        case .storage: nil
        }
    }

    var description: String {
        switch self {
        case .rate(let retryAfter, let count, let limit):
            "your team sent \(count) submissions this minute; its quota is \(limit) per minute. Retry in \(retryAfter) s"
        case .renderTime(let used, let limit, let retryAfter):
            "your team has used \(Int(used)) of its \(Int(limit)) render-seconds today (UTC); the count starts again in \(retryAfter) s"
        case .storage(let used, let limit):
            "your team's outputs take \(Int64(used) >> 20) MiB of its \(limit >> 20) MiB; erase or expire old videos first"
        }
    }
}

/// The quotas a submission is checked against before anything is parsed or stored: the
/// per-minute rate (counted, refusals included), the day's render time and the stored bytes.
/// Concurrent videos are the engine's to count (it holds them).
struct SubmissionQuotas: Sendable {
    let store: any AccountStore

    func check(_ team: TeamRecord, now: Date = Date()) async throws -> QuotaRefusal? {
        if case .limited(let retryAfter, let count, let limit) = try await SubmissionRateLimit(store: store).admit(team, now: now) {
            return .rate(retryAfter: retryAfter, count: count, limit: limit)
        }
        let day = UsageMeter.day(of: now)
        let used = try await store.usage(teamID: team.id, counter: UsageMeter.renderSeconds, windowStart: day)
        if used >= team.quotas.renderSecondsPerDay {
            let untilTomorrow = max(1, Int(day + 86_400 - Int64(now.timeIntervalSince1970.rounded(.down))))
            return .renderTime(usedSeconds: used, limitSeconds: team.quotas.renderSecondsPerDay, retryAfter: untilTomorrow)
        }
        let stored = try await store.usage(teamID: team.id, counter: UsageMeter.storageBytes, windowStart: 0)
        if stored >= Double(team.quotas.storageBytes) {
            return .storage(usedBytes: stored, limitBytes: team.quotas.storageBytes)
        }
        return nil
    }
}
