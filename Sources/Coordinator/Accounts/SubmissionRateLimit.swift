import FarmModel
import FarmStorage
import Foundation

/// Submissions per minute per team, counted in the store in fixed one-minute windows: a
/// restarted coordinator, or the standby that took over, keeps counting where the last stopped.
struct SubmissionRateLimit: Sendable {
    static let counter = "submissions"
    let store: any AccountStore

    enum Decision: Equatable {
        case admitted
        /// Over the limit: try again in `retryAfter` seconds (whole, at least 1).
        case limited(retryAfter: Int, count: Int, limit: Int)
    }

    /// Counts one submission of `team` at `now` and says whether it is within the quota.
    /// A refused submission counts too: a flood costs the parser either way.
    func admit(_ team: TeamRecord, now: Date = Date()) async throws -> Decision {
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        let window = seconds - seconds % 60
        // Windows older than an hour are no longer anybody's business.
        let total = try await store.addUsage(teamID: team.id, counter: Self.counter, windowStart: window, amount: 1,
                                             discardBefore: window - 3_600)
        guard total > Double(team.quotas.submissionsPerMinute) else { return .admitted }
        return .limited(retryAfter: max(1, Int(window + 60 - seconds)), count: Int(total), limit: team.quotas.submissionsPerMinute)
    }
}
