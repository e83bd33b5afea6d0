import FarmModel
import FarmStorage
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// Why an account request was refused.
public enum AccountError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(String)
    case notFound(String)
    case nameTaken(String)
    /// The request conflicts with the accounts' state (erasing the last admin).
    case conflict(String)

    public var description: String {
        switch self {
        case .invalid(let why): why
        case .notFound(let what): "no \(what)"
        case .nameTaken(let name): "the name \(name) is taken"
        case .conflict(let why): why
        }
    }
}

/// Why a request could not be authenticated. Each says what to fix, never whether another key exists.
public enum AuthenticationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missingKey
    case malformedKey
    case unknownKey
    case unusableKey(String)
    case erasedUser

    public var description: String {
        switch self {
        case .missingKey: "this needs an API key: send `Authorization: Bearer <key>` (see `farm login`)"
        case .malformedKey: "the Authorization header must be `Bearer mf_…`, an API key as it was issued"
        case .unknownKey: "the API key is not valid"
        case .unusableKey(let why): why
        case .erasedUser: "the API key's user was erased"
        }
    }
}

/// Teams, users and API keys: authentication for the HTTP API, and what admins
/// (over the API or `farm-coordinator users|keys`) change.
public final class Accounts: Sendable {
    public let store: any AccountStore
    /// When each key's last use was last written: at most one write per key per `touchInterval`.
    private let lastTouched = Mutex<[String: Date]>([:])
    static let touchInterval: TimeInterval = 60
    /// Keys recently proved, by hash: a request needs no store read for `freshFor`, and while the store
    /// cannot answer (a database restart) a proved key keeps working for `staleFor`, so following a
    /// video does not stop with the database. Revoking or erasing through this process forgets at once;
    /// through another process (`farm-coordinator keys revoke`), within `freshFor`.
    private let proved = Mutex<[String: (identity: FarmIdentity, record: APIKeyRecord, at: Date)]>([:])
    static let freshFor: TimeInterval = 30
    static let staleFor: TimeInterval = 300
    /// How long a request waits for the store to look a key up.
    static let lookupDeadline: Duration = .seconds(3)
    private let localAdminIdentity = Mutex<FarmIdentity?>(nil)

    public init(store: any AccountStore) {
        self.store = store
    }

    /// The identity behind `key` at `now`.
    /// - Throws: `AuthenticationError`; other errors if the store cannot be read.
    public func authenticate(key: String, now: Date = Date()) async throws -> FarmIdentity {
        guard let id = APIKeySecret.id(of: key) else { throw AuthenticationError.malformedKey }
        let hash = APIKeySecret.hash(key)
        let cached = proved.withLock { $0[hash] }
        if let cached, now.timeIntervalSince(cached.at) < Self.freshFor {
            if let why = cached.record.unusable(at: now) { throw AuthenticationError.unusableKey(why) }
            return cached.identity
        }
        // The hash is looked up, not compared: the secret never meets a timing-dependent comparison.
        let found: (APIKeyRecord, UserRecord, TeamRecord)?
        do {
            found = try await withDeadline(Self.lookupDeadline) { [store] in try await store.credentials(keyHash: hash) }
        } catch {
            guard let cached, now.timeIntervalSince(cached.at) < Self.staleFor, cached.record.unusable(at: now) == nil else { throw error }
            return cached.identity
        }
        guard let found, found.0.id == id else {
            forget { $0.record.keyHash == hash }
            throw AuthenticationError.unknownKey
        }
        let (record, user, team) = found
        if let why = record.unusable(at: now) {
            forget { $0.record.keyHash == hash }
            throw AuthenticationError.unusableKey(why)
        }
        guard user.erasedAt == nil else { throw AuthenticationError.erasedUser }
        let identity = FarmIdentity(user: user, team: team, keyID: id)
        proved.withLock { $0[hash] = (identity, record, now) }
        let due = lastTouched.withLock { touched in
            guard now.timeIntervalSince(touched[id] ?? .distantPast) >= Self.touchInterval else { return false }
            touched[id] = now
            return true
        }
        if due { try? await store.touchKey(id: id, at: now) }
        return identity
    }

    /// Forgets proved keys that match, so the next request with them reads the store.
    func forget(where matches: (_ entry: (identity: FarmIdentity, record: APIKeyRecord, at: Date)) -> Bool) {
        proved.withLock { proved in proved = proved.filter { !matches($0.value) } }
    }

    /// On a store without users: creates the team `default`, its admin `admin` and a key, and writes
    /// the key to `keyFile` (mode 0600, never to the log). Returns whether it did.
    @discardableResult
    public func bootstrap(keyFile: URL, logger: Logger) async throws -> Bool {
        guard try await !store.hasUsers() else { return false }
        let user = try await createUser(CreateUserRequest(name: "admin", team: "default", role: .admin))
        let created = try await createKey(for: user, request: CreateKeyRequest(name: "bootstrap"))
        try CurveKeys.writePrivately(created.key + "\n", to: keyFile)
        logger.notice("created the first admin: its API key is in the file named here, readable by this user only", metadata: [
            "keyFile": "\(keyFile.path)", "keyID": "\(created.info.id)",
        ])
        return true
    }

    /// The identity every request has on a coordinator without authentication: the first admin
    /// (read once; its quotas do not apply, as nothing is counted without authentication).
    public func localAdmin() async throws -> FarmIdentity {
        if let known = localAdminIdentity.withLock({ $0 }) { return known }
        guard let user = try await store.users(teamID: nil).first(where: { $0.role == .admin && $0.erasedAt == nil }),
              let team = try await store.team(user.teamID) else {
            throw AccountError.notFound("admin user")
        }
        let identity = FarmIdentity(user: user, team: team, keyID: nil)
        localAdminIdentity.withLock { $0 = identity }
        return identity
    }

    public func createTeam(_ request: CreateTeamRequest, now: Date = Date()) async throws -> TeamRecord {
        try Self.validateName(request.name, of: "team")
        let team = TeamRecord(id: Self.newID("t"), name: request.name, quotas: try Self.validate(request.quotas ?? .defaults),
                              retentionDays: try Self.validateRetention(request.retentionDays), createdAt: now)
        try await Self.naming { try await store.insert(team) }
        return team
    }

    public func updateTeam(_ idOrName: String, _ request: UpdateTeamRequest) async throws -> TeamRecord {
        guard var team = try await store.team(idOrName) else { throw AccountError.notFound("team \(idOrName)") }
        if let quotas = request.quotas { team.quotas = try Self.validate(quotas) }
        if let days = request.retentionDays { team.retentionDays = days == 0 ? nil : try Self.validateRetention(days) }
        try await store.update(team)
        forget { $0.identity.team.id == team.id }  // new quotas apply from the next request
        return team
    }

    /// Creates a user in the team named `request.team` (created with default quotas if no team has that name or id).
    public func createUser(_ request: CreateUserRequest, now: Date = Date()) async throws -> UserRecord {
        try Self.validateName(request.name, of: "user")
        let team: TeamRecord
        if let existing = try await store.team(request.team) {
            team = existing
        } else {
            team = try await createTeam(CreateTeamRequest(name: request.team), now: now)
        }
        let user = UserRecord(id: Self.newID("u"), teamID: team.id, name: request.name, role: request.role, createdAt: now)
        try await Self.naming { try await store.insert(user) }
        return user
    }

    /// Changes a user's role; the last admin keeps its role. Takes effect from the user's next request.
    public func updateUser(_ idOrName: String, _ request: UpdateUserRequest) async throws -> UserRecord {
        guard var user = try await store.user(idOrName), user.erasedAt == nil else { throw AccountError.notFound("user \(idOrName)") }
        if let role = request.role, role != user.role {
            if user.role == .admin, try await store.users(teamID: nil).filter({ $0.role == .admin && $0.erasedAt == nil }).count <= 1 {
                throw AccountError.conflict("\(user.name) is the last admin: make another admin first")
            }
            user.role = role
            try await store.update(user)
            forget { $0.identity.user.id == user.id }
        }
        return user
    }

    /// A new key for `user`: the only time its secret exists outside the caller.
    public func createKey(for user: UserRecord, request: CreateKeyRequest, now: Date = Date()) async throws -> CreatedKey {
        guard user.erasedAt == nil else { throw AccountError.invalid("user \(user.name) was erased") }
        var expiresAt: Date?
        if let days = request.expiresInDays {
            guard (1...3_650).contains(days) else { throw AccountError.invalid("expiresInDays must be between 1 and 3650") }
            expiresAt = now.addingTimeInterval(Double(days) * 86_400)
        }
        let name = request.name ?? "key"
        guard (1...64).contains(name.count), !name.contains(where: \.isNewline) else {
            throw AccountError.invalid("a key's name has 1 to 64 characters on one line")
        }
        let (key, id, hash) = APIKeySecret.generate()
        let record = APIKeyRecord(id: id, userID: user.id, name: name, keyHash: hash, createdAt: now, expiresAt: expiresAt)
        try await store.insert(record)
        return CreatedKey(key: key, info: KeyInfo(record))
    }

    /// Revokes a key at once: the next request with it is refused.
    public func revokeKey(id: String, now: Date = Date()) async throws -> KeyInfo {
        guard try await store.revokeKey(id: id, at: now), let key = try await store.key(id: id) else {
            throw AccountError.notFound("key \(id)")
        }
        forget { $0.record.id == id }
        return KeyInfo(key)
    }

    public func userInfo(_ user: UserRecord) async throws -> UserInfo {
        guard let team = try await store.team(user.teamID) else { throw AccountError.notFound("team \(user.teamID)") }
        return UserInfo(user, team: team)
    }

    // MARK: Validation

    static func validateName(_ name: String, of kind: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@-")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains), !name.hasPrefix(".") else {
            throw AccountError.invalid("a \(kind)'s name has 1 to 64 letters, digits, '.', '_', '@' or '-' and does not start with '.'")
        }
    }

    static func validate(_ quotas: TeamQuotas) throws -> TeamQuotas {
        guard (1...100_000).contains(quotas.submissionsPerMinute), (1...100_000).contains(quotas.concurrentVideos),
              quotas.renderSecondsPerDay.isFinite, (1...1e9).contains(quotas.renderSecondsPerDay),
              (0...(1 << 50)).contains(quotas.storageBytes), (0...1_000_000_000).contains(quotas.generationTokensPerDay),
              quotas.generationDollarsPerDay.isFinite, (0...1e6).contains(quotas.generationDollarsPerDay) else {
            throw AccountError.invalid(
                "quotas: submissionsPerMinute and concurrentVideos 1…100000, renderSecondsPerDay 1…1e9, storageBytes 0…2^50, "
                + "generationTokensPerDay 0…1e9, generationDollarsPerDay 0…1e6")
        }
        return quotas
    }

    static func validateRetention(_ days: Int?) throws -> Int? {
        guard let days else { return nil }
        guard (1...36_500).contains(days) else { throw AccountError.invalid("retentionDays must be between 1 and 36500 (0 turns it off)") }
        return days
    }

    static func newID(_ prefix: String) -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    }

    private static func naming(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch AccountStoreError.nameTaken(let name) {
            throw AccountError.nameTaken(name)
        }
    }
}
