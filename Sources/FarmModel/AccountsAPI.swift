import FarmProtocol
import Foundation

/// `POST /v1/teams` (admin).
public struct CreateTeamRequest: Codable, Sendable {
    public var name: String
    public var quotas: TeamQuotas?
    public var retentionDays: Int?

    public init(name: String, quotas: TeamQuotas? = nil, retentionDays: Int? = nil) {
        self.name = name
        self.quotas = quotas
        self.retentionDays = retentionDays
    }
}

/// `PATCH /v1/teams/{id}` (admin): fields present are changed.
public struct UpdateTeamRequest: Codable, Sendable {
    public var quotas: TeamQuotas?
    /// Days to keep outputs and logs; 0 turns retention off.
    public var retentionDays: Int?

    public init(quotas: TeamQuotas? = nil, retentionDays: Int? = nil) {
        self.quotas = quotas
        self.retentionDays = retentionDays
    }
}

/// `POST /v1/users` (admin).
public struct CreateUserRequest: Codable, Sendable {
    public var name: String
    /// The team's name or id; created with default quotas if no team has that name.
    public var team: String
    public var role: Role

    public init(name: String, team: String, role: Role) {
        self.name = name
        self.team = team
        self.role = role
    }
}

/// `PATCH /v1/users/{id}` (admin): fields present are changed.
public struct UpdateUserRequest: Codable, Sendable {
    public var role: Role?

    public init(role: Role? = nil) {
        self.role = role
    }
}

/// `POST /v1/users/{id}/keys`.
public struct CreateKeyRequest: Codable, Sendable {
    /// A name to recognise the key by (for example the machine it lives on).
    public var name: String?
    /// The key stops working after this many days; never when absent.
    public var expiresInDays: Int?

    public init(name: String? = nil, expiresInDays: Int? = nil) {
        self.name = name
        self.expiresInDays = expiresInDays
    }
}

/// A key as listings show it: never the secret.
public struct KeyInfo: Codable, Sendable, Equatable {
    public var id: String
    public var userID: String
    public var name: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    public init(_ record: APIKeyRecord) {
        id = record.id
        userID = record.userID
        name = record.name
        createdAt = record.createdAt
        expiresAt = record.expiresAt
        revokedAt = record.revokedAt
        lastUsedAt = record.lastUsedAt
    }
}

/// A new key: the only time the secret is shown.
public struct CreatedKey: Codable, Sendable {
    /// Send as `Authorization: Bearer <key>`.
    public var key: String
    public var info: KeyInfo

    public init(key: String, info: KeyInfo) {
        self.key = key
        self.info = info
    }
}

/// A team as the API shows it.
public struct TeamInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var quotas: TeamQuotas
    public var retentionDays: Int?

    public init(_ record: TeamRecord) {
        id = record.id
        name = record.name
        quotas = record.quotas
        retentionDays = record.retentionDays
    }
}

/// A user as the API shows it (`GET /v1/me`, `GET /v1/users`).
public struct UserInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var role: Role
    public var team: TeamInfo
    public var createdAt: Date

    public init(_ user: UserRecord, team: TeamRecord) {
        id = user.id
        name = user.name
        role = user.role
        self.team = TeamInfo(team)
        createdAt = user.createdAt
    }
}

/// One row of `GET /v1/videos`: what a listing needs, never the script.
public struct VideoSummary: Codable, Sendable, Equatable {
    public var id: String
    public var state: VideoState
    public var scriptName: String
    public var quality: Quality
    public var priority: Int
    public var submitter: String
    public var teamID: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var error: String?
    public var frames: Int?
    public var seconds: Double?
    /// How far a live video is (`GET /v1/events` carries it; absent from list pages).
    public var progress: VideoProgress?

    public init(id: String, state: VideoState, scriptName: String, quality: Quality, priority: Int, submitter: String,
                teamID: String?, createdAt: Date, updatedAt: Date, error: String?, frames: Int?, seconds: Double?) {
        self.id = id
        self.state = state
        self.scriptName = scriptName
        self.quality = quality
        self.priority = priority
        self.submitter = submitter
        self.teamID = teamID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.error = error
        self.frames = frames
        self.seconds = seconds
    }
}

/// `GET /v1/videos?limit=N&cursor=C`: newest first; pass `next` as `cursor` for the following page.
public struct VideoPage: Codable, Sendable {
    public var videos: [VideoSummary]
    /// Absent on the last page.
    public var next: String?

    public init(videos: [VideoSummary], next: String?) {
        self.videos = videos
        self.next = next
    }
}

/// `POST /v1/agents/{id}/drain` (operator): `true` stops new work going to the agent (what it runs
/// finishes); `false` gives it work again.
public struct DrainRequest: Codable, Sendable {
    public var drain: Bool

    public init(drain: Bool) {
        self.drain = drain
    }
}
