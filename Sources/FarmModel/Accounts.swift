import Foundation

/// What a user may do. Each role includes the ones below it: an operator can do
/// everything a creator can, an admin everything an operator can.
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Reads its own team's videos and outputs.
    case viewer
    /// Also submits videos and cancels its own.
    case creator
    /// Sees every team's videos, the agents and the metrics; cancels anything.
    case `operator`
    /// Also manages teams, users, keys and quotas.
    case admin

    public static func < (lhs: Role, rhs: Role) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// A team's limits. Every team gets the defaults until an admin changes them.
public struct TeamQuotas: Codable, Sendable, Equatable {
    /// Submissions accepted per minute (a refused one counts too: a flood costs the parser either way).
    public var submissionsPerMinute: Int
    /// Videos not yet final at once.
    public var concurrentVideos: Int
    /// Render time on agent slots per UTC day, in seconds: estimated when planned, measured when done.
    public var renderSecondsPerDay: Double
    /// Bytes of published outputs the team may keep.
    public var storageBytes: Int64
    /// Tokens a language model may read and write for the team's script generations per UTC day.
    public var generationTokensPerDay: Int
    /// What those generations may cost per UTC day, in US dollars (at the provider's configured prices).
    public var generationDollarsPerDay: Double

    public static let defaults = TeamQuotas(
        submissionsPerMinute: 30, concurrentVideos: 20, renderSecondsPerDay: 86_400, storageBytes: 50 << 30)
    public static let defaultGenerationTokensPerDay = 2_000_000
    public static let defaultGenerationDollarsPerDay = 5.0

    public init(submissionsPerMinute: Int, concurrentVideos: Int, renderSecondsPerDay: Double, storageBytes: Int64,
                generationTokensPerDay: Int = defaultGenerationTokensPerDay,
                generationDollarsPerDay: Double = defaultGenerationDollarsPerDay) {
        self.submissionsPerMinute = submissionsPerMinute
        self.concurrentVideos = concurrentVideos
        self.renderSecondsPerDay = renderSecondsPerDay
        self.storageBytes = storageBytes
        self.generationTokensPerDay = generationTokensPerDay
        self.generationDollarsPerDay = generationDollarsPerDay
    }

    private enum CodingKeys: String, CodingKey {
        case submissionsPerMinute, concurrentVideos, renderSecondsPerDay, storageBytes, generationTokensPerDay, generationDollarsPerDay
    }

    /// Teams stored (and requests written) before generation budgets existed get the default budgets.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        submissionsPerMinute = try container.decode(Int.self, forKey: .submissionsPerMinute)
        concurrentVideos = try container.decode(Int.self, forKey: .concurrentVideos)
        renderSecondsPerDay = try container.decode(Double.self, forKey: .renderSecondsPerDay)
        storageBytes = try container.decode(Int64.self, forKey: .storageBytes)
        generationTokensPerDay = try container.decodeIfPresent(Int.self, forKey: .generationTokensPerDay) ?? Self.defaultGenerationTokensPerDay
        generationDollarsPerDay = try container.decodeIfPresent(Double.self, forKey: .generationDollarsPerDay)
            ?? Self.defaultGenerationDollarsPerDay
    }
}

/// A tenant: its users share videos and quotas.
public struct TeamRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var quotas: TeamQuotas
    /// Outputs and logs older than this many days are deleted; `nil` keeps them.
    public var retentionDays: Int?
    public var createdAt: Date

    public init(id: String, name: String, quotas: TeamQuotas = .defaults, retentionDays: Int? = nil, createdAt: Date) {
        self.id = id
        self.name = name
        self.quotas = quotas
        self.retentionDays = retentionDays
        self.createdAt = createdAt
    }
}

/// A person (or a robot) in a team.
public struct UserRecord: Codable, Sendable, Equatable {
    public var id: String
    public var teamID: String
    public var name: String
    public var role: Role
    public var createdAt: Date
    /// Set when the user's data was erased; the row stays, anonymised, for accounting.
    public var erasedAt: Date?

    public init(id: String, teamID: String, name: String, role: Role, createdAt: Date) {
        self.id = id
        self.teamID = teamID
        self.name = name
        self.role = role
        self.createdAt = createdAt
    }
}

/// An API key as stored: never the key itself, only its SHA-256.
public struct APIKeyRecord: Codable, Sendable, Equatable {
    /// The key's public prefix (`mf_` and 12 hex digits): shown in listings and logs.
    public var id: String
    public var userID: String
    public var name: String
    /// SHA-256 of the whole key, hex.
    public var keyHash: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    public init(id: String, userID: String, name: String, keyHash: String, createdAt: Date, expiresAt: Date? = nil) {
        self.id = id
        self.userID = userID
        self.name = name
        self.keyHash = keyHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// Why the key cannot be used at `now`, or `nil` if it can.
    public func unusable(at now: Date) -> String? {
        if let revokedAt { return "the API key \(id) was revoked at \(revokedAt.ISO8601Format())" }
        if let expiresAt, expiresAt <= now { return "the API key \(id) expired at \(expiresAt.ISO8601Format())" }
        return nil
    }
}
