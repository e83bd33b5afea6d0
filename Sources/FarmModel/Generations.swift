import FarmProtocol
import Foundation

/// `POST /v1/generations`: a description of the video wanted; a language model writes its Manim script.
public struct GenerationRequest: Codable, Sendable, Equatable {
    /// What the video should explain, in the person's words.
    public var prompt: String
    /// How it should look or sound ("calm, dark background, 3Blue1Brown-like"), if anything.
    public var style: String?
    /// The render quality of the video made from the script (default `high`).
    public var quality: Quality?
    /// How long the video should run, in seconds (default 30).
    public var targetSeconds: Double?
    /// Ask the model again even when this prompt was answered before (default false: reuse that script).
    public var fresh: Bool?
    /// Higher runs first, within the role's cap (default 0).
    public var priority: Int?

    public init(prompt: String, style: String? = nil, quality: Quality? = nil, targetSeconds: Double? = nil,
                fresh: Bool? = nil, priority: Int? = nil) {
        self.prompt = prompt
        self.style = style
        self.quality = quality
        self.targetSeconds = targetSeconds
        self.fresh = fresh
        self.priority = priority
    }

    public static let defaultTargetSeconds = 30.0
    /// Bounds a request is held to: a prompt is read by a model that is paid by the token.
    public static let maxPromptCharacters = 4_000
    public static let maxStyleCharacters = 500
    public static let targetSecondsRange = 5.0...600.0
}

/// Where a generation is in its life.
public enum GenerationState: String, Codable, Sendable, CaseIterable {
    /// Accepted, waiting for the model (or for the store to answer).
    case queued
    /// The model is writing (or repairing) the script.
    case writing
    /// The script goes through scene discovery and the planning pass in the sandbox.
    case validating
    /// The script planned cleanly and was submitted as `videoID`; the video renders.
    case rendering
    /// The video is done.
    case done
    /// No valid script within the round limit, the budget ran out, the model failed, or the video failed.
    case failed
    /// Its owner (or an operator) stopped it; its check or video was cancelled with it.
    case cancelled

    public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// One exchange with the model and what the farm made of its answer.
public struct GenerationRound: Codable, Sendable, Equatable {
    /// 1 for the first script, then one per repair.
    public var number: Int
    /// What the model was told this round: the prompt, or the error it was asked to fix.
    public var request: String
    /// The script the model answered with; absent when the call to the model failed.
    public var script: String?
    /// Why the script was not accepted, in the words fed back to the model; absent for the accepted one.
    public var error: String?
    /// Where it failed: `model`, `script` (no code in the answer), `discovery`, `planning` or `length`.
    public var stage: String?
    /// The validation video that ran the planning pass on this round's script.
    public var validationVideo: String?
    /// The video's length as planned, in seconds.
    public var plannedSeconds: Double?
    /// Tokens the model read and wrote this round, as it reported them.
    public var promptTokens: Int
    public var outputTokens: Int
    public var startedAt: Date
    public var endedAt: Date?

    public init(number: Int, request: String, startedAt: Date) {
        self.number = number
        self.request = request
        self.promptTokens = 0
        self.outputTokens = 0
        self.startedAt = startedAt
    }
}

/// A generation job: the request, every round with the model, and the video it became.
/// `GET /v1/generations/{id}` answers with it, to its owner and operators only.
public struct GenerationRecord: Codable, Sendable, Equatable {
    public var id: String
    public var state: GenerationState
    public var request: GenerationRequest
    public var teamID: String?
    public var userID: String?
    public var submitter: String
    /// The provider and model that wrote the script (`gemini`, `gemini-2.5-flash`).
    public var provider: String
    public var model: String
    /// The Manim version the system prompt pinned.
    public var manimVersion: String?
    /// Names the accepted script under (prompt, provider, model, Manim version) for its owner's team.
    public var cacheKey: String?
    /// Taken from an earlier generation of the same prompt: no model was asked.
    public var reusedFrom: String?
    public var rounds: [GenerationRound]
    /// The script that planned cleanly.
    public var script: String?
    public var videoID: String?
    public var error: String?
    /// Tokens and dollars every round spent together (the provider's prices, as configured).
    public var tokens: Int
    public var costUSD: Double
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, request: GenerationRequest, submitter: String, provider: String, model: String, createdAt: Date) {
        self.id = id
        self.state = .queued
        self.request = request
        self.submitter = submitter
        self.provider = provider
        self.model = model
        self.rounds = []
        self.tokens = 0
        self.costUSD = 0
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }
}

/// `GET /v1/generations`: the caller's generations, newest first.
public struct GenerationPage: Codable, Sendable {
    public var generations: [GenerationRecord]

    public init(generations: [GenerationRecord]) {
        self.generations = generations
    }
}
