import FarmModel
import Foundation

/// What exporting, erasing and expiring a user's data needs of the store, beyond `FarmStore`.
public protocol PrivacyStore: Sendable {
    /// Every video of a user, oldest first, scripts included.
    func videos(userID: String) async throws -> [VideoRecord]
    /// A team's final videos last changed before `cutoff` whose outputs and logs were not expired yet.
    func expirableVideos(teamID: String, before cutoff: Date, limit: Int) async throws -> [VideoRecord]
    /// Removes a video's content in one transaction: its script (emptied), script name, idempotency key,
    /// error, scene names (replaced by `options`' anonymous ones), tasks' errors and notes, attempts' log tails,
    /// and its artifacts' rows. What accounting needs stays: ids, owner, state, times, frames, seconds.
    func anonymise(videoID: String, options: VideoOptions) async throws
    /// Deletes a video's logs (tasks' errors and notes, attempts' log tails) and marks it expired at `at`.
    func expire(videoID: String, at: Date) async throws
    /// The Manim versions the plan cache holds plans for (a plan's key includes it).
    func cachedPlanManimVersions() async throws -> [String]
    /// Deletes the plans with these keys; returns how many there were.
    func removeCachedPlans(keys: [String]) async throws -> Int
    /// Makes what was deleted unrecoverable from the database's files (SQLite: the WAL checkpointed
    /// into a database that overwrote freed pages; PostgreSQL: the changed tables vacuumed).
    func compact() async throws
}

/// Everything the coordinator needs of its store.
public typealias CoordinatorStore = FarmStore & AccountStore & PrivacyStore & GenerationStore
