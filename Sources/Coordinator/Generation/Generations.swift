import Crypto
import FarmModel
import FarmStorage
import Foundation
import Logging

/// How the farm writes scripts from prompts; absent (the default) turns generation off.
public struct GenerationSettings: Sendable {
    public var model: any ScriptModel
    /// Scripts per job: the first and its repairs.
    public var maxRounds: Int
    /// How long a script's planning pass may take (queueing included) before the round fails.
    public var checkTimeout: Duration
    /// Jobs a team may have unfinished at once.
    public var activePerTeam: Int
    /// How often a job looks at the video it waits for.
    public var pollInterval: Duration

    public init(model: any ScriptModel, maxRounds: Int = 3, checkTimeout: Duration = .seconds(600), activePerTeam: Int = 4,
                pollInterval: Duration = .milliseconds(250)) {
        self.model = model
        self.maxRounds = min(max(maxRounds, 1), 10)
        self.checkTimeout = checkTimeout
        self.activePerTeam = max(activePerTeam, 1)
        self.pollInterval = pollInterval
    }
}

/// Why a generation was not accepted.
public enum GenerationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No provider is configured on this coordinator.
    case disabled
    case invalid(String, field: String)
    /// The team's daily token or cost budget is spent; try again after `retryAfter` seconds.
    case overBudget(String, retryAfter: Int)
    case tooManyActive(limit: Int)
    /// The coordinator cannot take the job now (the store does not answer).
    case unavailable(String)

    public var description: String {
        switch self {
        case .disabled:
            "script generation is not configured on this coordinator: start it with --generation-provider gemini and a key "
                + "(GEMINI_API_KEY in its environment, or --gemini-api-key-file naming a file a secret store writes); "
                + "see the README's \"Generate a video from a prompt\""
        case .invalid(let why, _): why
        case .overBudget(let why, _): why
        case .tooManyActive(let limit):
            "your team has \(limit) generations under way, its limit; start another when one finishes"
        case .unavailable(let why): why
        }
    }
}

/// Script generation: prompts in, generation jobs out. A job asks the model for a script, checks it through the
/// farm's scene discovery and a planning pass in the sandbox (a `validateOnly` video), feeds any error back for a
/// bounded number of repair rounds, and submits the first script that plans cleanly as the video. Jobs are
/// written to the store after every step and taken up again after a restart; `GenerationService` runs them.
public actor Generations {
    let settings: GenerationSettings?
    let engine: FarmEngine
    let store: any CoordinatorStore
    let api: ManimAPIReader
    let logger: Logger
    /// Jobs this coordinator runs now, by team.
    var active: [String: Set<String>] = [:]
    /// Jobs stopped for good (cancelled, or their user was erased): they write nothing more and submit nothing.
    var stopped: Set<String> = []
    /// The check each job waits for now, by job.
    var checking: [String: String] = [:]
    /// Jobs to run; `GenerationService` takes them.
    let queue: AsyncStream<String>
    let enqueue: AsyncStream<String>.Continuation

    let metrics = GenerationMetrics()

    static let tokenCounter = "generation-tokens"
    static let costCounter = "generation-microdollars"

    public init(settings: GenerationSettings?, engine: FarmEngine, store: any CoordinatorStore, logger: Logger) {
        self.settings = settings
        self.engine = engine
        self.store = store
        self.api = ManimAPIReader(engine: engine)
        self.logger = logger
        (queue, enqueue) = AsyncStream.makeStream(of: String.self)
    }

    public nonisolated var isEnabled: Bool { settings != nil }

    /// Accepts a job: checked, budgeted, stored, queued. Returns it as stored.
    public func submit(_ request: GenerationRequest, owner: VideoOwner, quotas: TeamQuotas?) async throws(GenerationError) -> GenerationRecord {
        guard let settings else { throw .disabled }
        let request = try Self.checked(request)
        let team = owner.teamID ?? ""
        if owner.teamID != nil, active[team, default: []].count >= settings.activePerTeam {
            throw .tooManyActive(limit: settings.activePerTeam)
        }
        if let team = owner.teamID, let quotas, let refusal = try await budgetRefusal(team: team, quotas: quotas) {
            throw refusal
        }
        var job = GenerationRecord(id: Self.newID(), request: request, submitter: owner.name ?? "anonymous",
                                   provider: settings.model.provider, model: settings.model.model, createdAt: Date())
        job.teamID = owner.teamID
        job.userID = owner.userID
        do { try await store.saveGeneration(job) } catch { throw .unavailable("the job could not be stored, nothing was accepted: \(error)") }
        active[team, default: []].insert(job.id)
        enqueue.yield(job.id)
        logger.info("generation accepted", metadata: ["generation": "\(job.id)", "submitter": "\(job.submitter)",
                                                      "model": "\(job.provider)/\(job.model)"])
        return job
    }

    public func generation(id: String) async throws -> GenerationRecord? {
        guard Self.isGenerationID(id) else { return nil }
        return try await store.generation(id: id)
    }

    public func generations(userID: String?, limit: Int) async throws -> [GenerationRecord] {
        try await store.generations(userID: userID, limit: limit)
    }

    /// Stops a job for good: it ends `cancelled`, writes nothing more, and its check or video is cancelled.
    /// A job that has ended already is answered as it is.
    public func cancel(id: String, by who: String) async throws -> GenerationRecord? {
        guard var job = try await generation(id: id) else { return nil }
        guard !job.state.isFinal else { return job }
        stopped.insert(job.id)
        job.state = .cancelled
        job.error = "cancelled by \(who)"
        job.updatedAt = Date()
        try await store.saveGeneration(job)
        for videoID in [checking[job.id], job.videoID].compactMap({ $0 }) {
            _ = await engine.cancel(videoID: videoID)
        }
        logger.info("generation cancelled", metadata: ["generation": "\(job.id)"])
        return job
    }

    /// Queues the jobs a previous run of the coordinator left unfinished.
    func resumeUnfinished() async {
        guard settings != nil else { return }
        do {
            for job in try await store.unfinishedGenerations() {
                active[job.teamID ?? "", default: []].insert(job.id)
                enqueue.yield(job.id)
            }
        } catch {
            logger.error("unfinished generations could not be read; they resume at the next start", metadata: ["error": "\(error)"])
        }
    }

    func stopIntake() { enqueue.finish() }

    /// Stops a user's unfinished jobs where they are, before the user's data is erased.
    func stop(userID: String) async {
        let jobs = (try? await store.generations(userID: userID, limit: 100_000)) ?? []
        stopped.formUnion(jobs.filter { !$0.state.isFinal }.map(\.id))
    }

    // MARK: Requests

    static func checked(_ request: GenerationRequest) throws(GenerationError) -> GenerationRequest {
        var request = request
        request.prompt = request.prompt.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !request.prompt.isEmpty, request.prompt.count <= GenerationRequest.maxPromptCharacters else {
            throw .invalid("the prompt has \(request.prompt.count) characters; 1 to \(GenerationRequest.maxPromptCharacters) are read",
                           field: "prompt")
        }
        request.style = request.style?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let style = request.style, style.count > GenerationRequest.maxStyleCharacters {
            throw .invalid("the style has \(style.count) characters; at most \(GenerationRequest.maxStyleCharacters) are read", field: "style")
        }
        let range = GenerationRequest.targetSecondsRange
        if let seconds = request.targetSeconds, !(seconds.isFinite && range.contains(seconds)) {
            throw .invalid("targetSeconds must be between \(Int(range.lowerBound)) and \(Int(range.upperBound))", field: "targetSeconds")
        }
        return request
    }

    /// Names an accepted script for its team: the same prompt, style and length, written by the same model for the
    /// same Manim, is the same script.
    static func cacheKey(_ job: GenerationRecord) -> String {
        let request = job.request
        let material = [job.teamID ?? "", request.prompt.split(whereSeparator: \.isWhitespace).joined(separator: " "),
                        request.style ?? "", String(request.targetSeconds ?? GenerationRequest.defaultTargetSeconds),
                        job.provider, job.model, job.manimVersion ?? ""].joined(separator: "\u{1F}")
        return "gen-" + SHA256.hash(data: Data(material.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func newID() -> String {
        "g" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
    }

    static func isGenerationID(_ id: String) -> Bool {
        id.utf8.count == 13 && id.hasPrefix("g") && id.dropFirst().allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    // MARK: Budgets

    /// Why the team may not spend more on generation today; `nil` while it may.
    func budgetRefusal(team: String, quotas: TeamQuotas) async throws(GenerationError) -> GenerationError? {
        let day = UsageMeter.day(of: Date())
        let tokens: Double, microdollars: Double
        do {
            tokens = try await store.usage(teamID: team, counter: Self.tokenCounter, windowStart: day)
            microdollars = try await store.usage(teamID: team, counter: Self.costCounter, windowStart: day)
        } catch {
            throw .unavailable("the team's generation budget could not be read, nothing was accepted: \(error)")
        }
        let untilMidnight = Int(day + 86_400 - Int64(Date().timeIntervalSince1970)) + 1
        if tokens >= Double(quotas.generationTokensPerDay) {
            return .overBudget("your team used \(Int(tokens)) of its \(quotas.generationTokensPerDay) generation tokens today (UTC); "
                               + "try again tomorrow or ask an admin to raise generationTokensPerDay", retryAfter: untilMidnight)
        }
        if microdollars / 1e6 >= quotas.generationDollarsPerDay {
            return .overBudget(String(format: "your team spent $%.2f of its $%.2f for generation today (UTC); ", microdollars / 1e6,
                                      quotas.generationDollarsPerDay) + "try again tomorrow or ask an admin to raise generationDollarsPerDay",
                               retryAfter: untilMidnight)
        }
        return nil
    }

    /// Counts what a model call cost against the team's day.
    func meter(team: String?, reply: ModelReply, prices: ModelPrices) async {
        metrics.promptTokens.increment(by: reply.promptTokens)
        metrics.outputTokens.increment(by: reply.outputTokens)
        guard let team else { return }
        let day = UsageMeter.day(of: Date())
        let tokens = Double(reply.promptTokens) + Double(reply.outputTokens)
        let microdollars = prices.dollars(promptTokens: reply.promptTokens, outputTokens: reply.outputTokens) * 1e6
        do {
            _ = try await store.addUsage(teamID: team, counter: Self.tokenCounter, windowStart: day, amount: tokens, discardBefore: day - 86_400 * 30)
            _ = try await store.addUsage(teamID: team, counter: Self.costCounter, windowStart: day, amount: microdollars,
                                         discardBefore: day - 86_400 * 30)
        } catch {
            logger.warning("a generation's usage could not be counted", metadata: ["team": "\(team)", "error": "\(error)"])
        }
    }
}
