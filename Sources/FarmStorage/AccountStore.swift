import FarmModel
import Foundation

/// Why an account operation was refused.
public enum AccountStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A team or user with this name exists already.
    case nameTaken(String)

    public var description: String {
        switch self {
        case .nameTaken(let name): "the name \(name) is taken"
        }
    }
}

/// Teams, users, API keys and per-team usage: who may do what, and how much.
///
/// Both stores implement it beside `FarmStore`. Reads take a key's hash, never the key.
public protocol AccountStore: Sendable {
    /// Whether any user exists: an empty store gets a first admin at start.
    func hasUsers() async throws -> Bool

    /// Stores a team. - Throws: `AccountStoreError.nameTaken`.
    func insert(_ team: TeamRecord) async throws
    func update(_ team: TeamRecord) async throws
    /// A team by id, else by name.
    func team(_ idOrName: String) async throws -> TeamRecord?
    func teams() async throws -> [TeamRecord]

    /// Stores a user. - Throws: `AccountStoreError.nameTaken`.
    func insert(_ user: UserRecord) async throws
    func update(_ user: UserRecord) async throws
    /// A user by id, else by name.
    func user(_ idOrName: String) async throws -> UserRecord?
    /// A team's users, or every user when `teamID` is `nil`, by name.
    func users(teamID: String?) async throws -> [UserRecord]

    func insert(_ key: APIKeyRecord) async throws
    /// The key whose SHA-256 is `hash`, with its user and the user's team.
    func credentials(keyHash: String) async throws -> (APIKeyRecord, UserRecord, TeamRecord)?
    func keys(userID: String) async throws -> [APIKeyRecord]
    func key(id: String) async throws -> APIKeyRecord?
    /// Marks a key revoked at `at`; returns `false` if there is no such key. Revoking twice keeps the first time.
    func revokeKey(id: String, at: Date) async throws -> Bool
    /// Records when a key was last used.
    func touchKey(id: String, at: Date) async throws
    /// For an erased user: revokes its keys (those not revoked yet at `at`) and blanks their names;
    /// returns how many were revoked now.
    func eraseKeys(userID: String, at: Date) async throws -> Int

    /// Adds `amount` to a team's counter in the window starting at `windowStart` (seconds since 1970)
    /// and returns the new total, atomically: two coordinators counting at once never lose an addition.
    /// Windows of the same counter starting before `discardBefore` are deleted in the same transaction.
    func addUsage(teamID: String, counter: String, windowStart: Int64, amount: Double, discardBefore: Int64?) async throws -> Double
    /// A team's counter in one window (0 if nothing was counted).
    func usage(teamID: String, counter: String, windowStart: Int64) async throws -> Double
}
