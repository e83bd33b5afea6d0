/// Who a submitted video belongs to, from the submitter's API key.
public struct VideoOwner: Sendable {
    public var teamID: String?
    public var userID: String?
    /// Shown as the video's submitter.
    public var name: String?
    /// The team's quota of videos not yet final; `nil` for no limit.
    public var concurrentVideos: Int?

    public init(teamID: String?, userID: String?, name: String?, concurrentVideos: Int?) {
        self.teamID = teamID
        self.userID = userID
        self.name = name
        self.concurrentVideos = concurrentVideos
    }

    /// A video of nobody in particular (the engine's own tests and benchmarks).
    public static let unowned = VideoOwner(teamID: nil, userID: nil, name: nil, concurrentVideos: nil)
}
