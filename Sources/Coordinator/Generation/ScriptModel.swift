import Foundation

/// A language model that writes Manim scripts: the farm's one seam to a provider. Gemini is the first
/// (`GeminiModel`); another provider is another conformance, chosen by configuration.
public protocol ScriptModel: Sendable {
    /// The provider's name, part of the script cache's key (`gemini`).
    var provider: String { get }
    /// The model's name at the provider, part of the key too (`gemini-2.5-flash`).
    var model: String { get }
    /// What a million tokens cost, read and written, in US dollars: the team's cost budget counts with it.
    var prices: ModelPrices { get }
    /// The model's answer to `conversation` under `system`. Retries what is worth retrying itself
    /// (rate limits, server errors, timeouts) within its own policy; a thrown failure is final.
    func write(system: String, conversation: [ModelTurn]) async throws(ModelFailure) -> ModelReply
}

/// One turn of a conversation with a model.
public struct ModelTurn: Sendable, Equatable {
    public enum Speaker: String, Sendable { case person, model }
    public var speaker: Speaker
    public var text: String

    public init(_ speaker: Speaker, _ text: String) {
        self.speaker = speaker
        self.text = text
    }
}

/// A model's answer and what it cost.
public struct ModelReply: Sendable, Equatable {
    public var text: String
    public var promptTokens: Int
    public var outputTokens: Int

    public init(text: String, promptTokens: Int, outputTokens: Int) {
        self.text = text
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
    }
}

/// US dollars per million tokens.
public struct ModelPrices: Sendable, Equatable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double

    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }

    public func dollars(promptTokens: Int, outputTokens: Int) -> Double {
        (Double(promptTokens) * inputPerMillion + Double(outputTokens) * outputPerMillion) / 1_000_000
    }
}

/// Why a model gave no answer, after its retries.
public enum ModelFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// No answer within the time allowed, on every attempt.
    case timeout(seconds: Double, attempts: Int)
    /// Still rate-limited after the retries (or asked to wait longer than the farm waits).
    case rateLimited(retryAfter: Double?, message: String)
    /// The provider failed (5xx) or could not be reached, on every attempt.
    case unavailable(String)
    /// The provider refused the request (a bad key, an unknown model, a bad request): retrying cannot help.
    case refused(status: Int, message: String)
    /// The answer could not be read (not JSON, no candidates, no text).
    case malformed(String)
    /// The provider withheld the answer (safety filters, a prompt it blocks).
    case blocked(String)

    public var description: String {
        switch self {
        case .timeout(let seconds, let attempts):
            "the model did not answer within \(Self.format(seconds)) s (\(attempts) attempt\(attempts == 1 ? "" : "s"))"
        case .rateLimited(let retryAfter, let message):
            "the model's provider is rate-limiting this farm\(retryAfter.map { " (it asked to wait \(Self.format($0)) s)" } ?? ""): \(message)"
        case .unavailable(let message): "the model's provider is unavailable: \(message)"
        case .refused(let status, let message): "the model's provider refused the request (\(status)): \(message)"
        case .malformed(let message): "the model's answer could not be read: \(message)"
        case .blocked(let message): "the model's provider withheld the answer: \(message)"
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}
