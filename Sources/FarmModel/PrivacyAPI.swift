import Foundation

/// `DELETE /v1/users/{id}`: what erasing a user's data removed. Erasing again removes nothing more.
public struct ErasureReport: Codable, Sendable, Equatable {
    public var userID: String
    /// Videos whose scripts, names, errors and logs were removed (their ids, times and sizes stay, for accounting).
    public var videos: Int
    /// Videos still running that were cancelled first.
    public var cancelled: Int
    /// Published output folders deleted.
    public var outputsDeleted: Int
    /// Render-cache and plan-cache entries derived from the user's scripts.
    public var cacheEntriesDeleted: Int
    public var keysRevoked: Int
    /// Generation jobs deleted: their prompts, scripts and rounds.
    public var generationsDeleted: Int?
    public var erasedAt: Date

    public init(userID: String, videos: Int, cancelled: Int, outputsDeleted: Int, cacheEntriesDeleted: Int, keysRevoked: Int,
                erasedAt: Date) {
        self.userID = userID
        self.videos = videos
        self.cancelled = cancelled
        self.outputsDeleted = outputsDeleted
        self.cacheEntriesDeleted = cacheEntriesDeleted
        self.keysRevoked = keysRevoked
        self.erasedAt = erasedAt
    }
}

/// `POST /v1/teams/{id}/expire`.
public struct ExpireRequest: Codable, Sendable {
    /// List what would be deleted, delete nothing.
    public var dryRun: Bool

    public init(dryRun: Bool) {
        self.dryRun = dryRun
    }
}

/// What a team's retention policy deletes (or, in a dry run, would delete).
public struct RetentionReport: Codable, Sendable, Equatable {
    public struct Video: Codable, Sendable, Equatable {
        public var id: String
        public var scriptName: String
        public var finishedAt: Date
        public var outputBytes: Int64

        public init(id: String, scriptName: String, finishedAt: Date, outputBytes: Int64) {
            self.id = id
            self.scriptName = scriptName
            self.finishedAt = finishedAt
            self.outputBytes = outputBytes
        }
    }

    public var teamID: String
    public var retentionDays: Int?
    /// Videos that finished before this lose their outputs and logs.
    public var cutoff: Date?
    public var dryRun: Bool
    public var videos: [Video]

    public init(teamID: String, retentionDays: Int?, cutoff: Date?, dryRun: Bool, videos: [Video]) {
        self.teamID = teamID
        self.retentionDays = retentionDays
        self.cutoff = cutoff
        self.dryRun = dryRun
        self.videos = videos
    }
}
