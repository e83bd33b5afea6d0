import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Logging

/// A user's data: exported as one archive, erased on request, and a team's old outputs
/// and logs expired by its retention policy. `docs/privacy.md` says what is kept and why.
public struct PersonalData: Sendable {
    let engine: FarmEngine
    let accounts: Accounts
    let store: any CoordinatorStore
    let logger: Logger
    /// The user's generation jobs stop before their prompts and scripts are erased.
    var generations: Generations?

    public init(engine: FarmEngine, accounts: Accounts, store: any CoordinatorStore, logger: Logger) {
        self.engine = engine
        self.accounts = accounts
        self.store = store
        self.logger = logger
    }

    /// One video in an export: everything stored about it but its script (a file of its own).
    struct ExportedVideo: Codable {
        var id: String
        var state: VideoState
        var scriptName: String
        var scriptFile: String?
        var createdAt: Date
        var updatedAt: Date
        var settings: RenderSettings
        var renditions: [String]
        var options: VideoOptions
        var error: String?
        var frames: Int?
        var seconds: Double?
        var outputs: [String: String]?
        var outputsExpiredAt: Date?
        var scenes: [ExportedTask]
    }

    struct ExportedTask: Codable {
        var scene: String
        var state: TaskState
        var attempts: [AttemptRecord]
        var error: TaskError?
    }

    struct ExportedAccount: Codable {
        var user: UserRecord
        var team: TeamInfo
        var keys: [KeyInfo]
        var exportedAt: Date
        var usage: Usage
    }

    struct Usage: Codable {
        var videos: Int
        var videosByState: [String: Int]
        var framesRendered: Int
        var secondsOfVideo: Double
        var renderAttemptSeconds: Double
    }

    /// Everything the farm holds about `user` as a ustar archive: `account.json` (the user, the team,
    /// keys' metadata, usage), `videos.json` (settings, states, scenes, attempts with their log tails,
    /// outputs' locations), each script under `scripts/`, and `generations.json` (every prompt and round).
    public func export(_ user: UserRecord, now: Date = Date()) async throws -> Data {
        guard let team = try await store.team(user.teamID) else { throw AccountError.notFound("team \(user.teamID)") }
        let videos = try await store.videos(userID: user.id)
        var archive = TarArchive()
        var exported: [ExportedVideo] = []
        var attemptSeconds = 0.0
        for video in videos {
            var scenes: [ExportedTask] = []
            for task in try await store.tasks(videoID: video.id) {
                let attempts = try await store.attempts(taskID: task.id)
                attemptSeconds += attempts.reduce(0) { $0 + max(0, ($1.endedAt ?? $1.startedAt).timeIntervalSince($1.startedAt)) }
                scenes.append(ExportedTask(scene: task.scene, state: task.state, attempts: attempts, error: task.error))
            }
            var scriptFile: String?
            if !video.script.isEmpty {
                scriptFile = "scripts/\(video.id)-\(ScriptName.safe(video.scriptName))"
                archive.add("manimfarm-export/\(scriptFile!)", Data(video.script.utf8), modified: video.createdAt)
            }
            let published = video.state == .done && video.expiredAt == nil
            exported.append(ExportedVideo(
                id: video.id, state: video.state, scriptName: video.scriptName, scriptFile: scriptFile, createdAt: video.createdAt,
                updatedAt: video.updatedAt, settings: video.settings, renditions: video.encoding.renditions.map(\.name),
                options: video.options, error: video.error, frames: video.frames, seconds: video.seconds,
                outputs: published ? ["master": "/v1/videos/\(video.id)/master.m3u8", "mp4": "/v1/videos/\(video.id)/video.mp4"] : nil,
                outputsExpiredAt: video.expiredAt, scenes: scenes))
        }
        let usage = Usage(
            videos: videos.count, videosByState: Dictionary(grouping: videos, by: \.state.rawValue).mapValues(\.count),
            framesRendered: videos.reduce(0) { $0 + ($1.frames ?? 0) }, secondsOfVideo: videos.reduce(0) { $0 + ($1.seconds ?? 0) },
            renderAttemptSeconds: attemptSeconds)
        let account = ExportedAccount(user: user, team: TeamInfo(team), keys: try await store.keys(userID: user.id).map(KeyInfo.init),
                                      exportedAt: now, usage: usage)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        archive.add("manimfarm-export/account.json", try encoder.encode(account), modified: now)
        archive.add("manimfarm-export/videos.json", try encoder.encode(exported), modified: now)
        archive.add("manimfarm-export/generations.json", try encoder.encode(try await store.generations(userID: user.id, limit: 100_000)),
                    modified: now)
        logger.notice("exported a user's data", metadata: ["user": "\(user.id)", "videos": "\(videos.count)"])
        return archive.finished
    }

    /// Erases `user`'s data: its running videos are cancelled; then its scripts, script and scene names,
    /// errors and log tails, its videos' outputs and staged segments, the render- and plan-cache entries
    /// made from its scripts, and its keys' names; its keys are revoked and its name replaced. What
    /// accounting needs stays, anonymous (ids, team, states, times, frames, seconds). Idempotent.
    public func erase(_ user: UserRecord, by actor: FarmIdentity?, now: Date = Date()) async throws -> ErasureReport {
        if user.role == .admin, user.erasedAt == nil,
           try await store.users(teamID: nil).filter({ $0.role == .admin && $0.erasedAt == nil }).count <= 1 {
            throw AccountError.conflict("\(user.name) is the last admin: make another admin before erasing it")
        }
        // Generation jobs first: a job still running would submit new videos in the user's name.
        await generations?.stop(userID: user.id)
        let videos = try await store.videos(userID: user.id)
        let cancelled = await engine.settle(videos.map(\.id))
        var outputs = 0
        var cacheEntries = 0
        for video in videos {
            let tasks = try await store.tasks(videoID: video.id)
            cacheEntries += try await engine.forgetCachedWork(of: video, tasks: tasks, plans: store)
            let bytes = await engine.outputBytes(of: video.id)
            if await engine.deleteOutputs(of: video.id) {
                outputs += 1
                if let team = video.teamID { engine.usage.addStorage(team: team, bytes: -bytes) }
            }
            var options = video.options
            options.submitter = "erased"
            options.scenes = options.scenes.enumerated().map { SceneSpec(name: "erased-\($0.offset)", requiresLaTeX: $0.element.requiresLaTeX) }
            try await store.anonymise(videoID: video.id, options: options)
        }
        let keysRevoked = try await store.eraseKeys(userID: user.id, at: now)
        let generationsDeleted = try await store.deleteGenerations(userID: user.id)
        var erased = user
        erased.name = "erased-\(user.id)"
        erased.erasedAt = erased.erasedAt ?? now
        try await store.update(erased)
        accounts.forget { $0.identity.user.id == user.id }
        try await store.compact()
        var report = ErasureReport(userID: user.id, videos: videos.count, cancelled: cancelled, outputsDeleted: outputs,
                                   cacheEntriesDeleted: cacheEntries, keysRevoked: keysRevoked, erasedAt: erased.erasedAt!)
        report.generationsDeleted = generationsDeleted
        logger.notice("erased a user's data", metadata: [
            "user": "\(user.id)", "by": "\(actor?.user.id ?? "farm-coordinator")", "videos": "\(report.videos)",
            "cancelled": "\(cancelled)", "outputs": "\(outputs)", "cacheEntries": "\(cacheEntries)", "keysRevoked": "\(keysRevoked)",
        ])
        return report
    }

    /// Deletes the outputs and logs of `team`'s videos that finished more than its retention days
    /// before `now` (nothing when it has no policy); with `dryRun`, only lists them.
    public func expire(_ team: TeamRecord, dryRun: Bool, now: Date = Date()) async throws -> RetentionReport {
        guard let days = team.retentionDays else {
            return RetentionReport(teamID: team.id, retentionDays: nil, cutoff: nil, dryRun: dryRun, videos: [])
        }
        let cutoff = now.addingTimeInterval(-Double(days) * 86_400)
        var listed: [RetentionReport.Video] = []
        while true {
            let batch = try await store.expirableVideos(teamID: team.id, before: cutoff, limit: 500)
            for video in batch where !listed.contains(where: { $0.id == video.id }) {
                listed.append(.init(id: video.id, scriptName: video.scriptName, finishedAt: video.updatedAt,
                                    outputBytes: await engine.outputBytes(of: video.id)))
                guard !dryRun else { continue }
                if await engine.deleteOutputs(of: video.id) { engine.usage.addStorage(team: team.id, bytes: -listed.last!.outputBytes) }
                try await store.expire(videoID: video.id, at: now)
            }
            if dryRun || batch.count < 500 { break }
        }
        if !dryRun && !listed.isEmpty {
            logger.notice("retention expired videos' outputs and logs", metadata: [
                "team": "\(team.id)", "days": "\(days)", "videos": "\(listed.count)",
            ])
        }
        return RetentionReport(teamID: team.id, retentionDays: days, cutoff: cutoff, dryRun: dryRun, videos: listed)
    }
}
