import Foundation

/// The body of `generateContent`, as Gemini's REST API documents it.
struct GenerateContentRequest: Codable {
    struct Content: Codable {
        var role: String?
        var parts: [Part]
    }
    struct Part: Codable {
        var text: String?
    }
    struct GenerationConfig: Codable {
        var temperature: Double
        var maxOutputTokens: Int
    }
    var systemInstruction: Content
    var contents: [Content]
    var generationConfig: GenerationConfig
}

/// Its answer: candidates, why they ended, and what the call counted.
struct GenerateContentResponse: Decodable {
    struct Candidate: Decodable {
        var content: GenerateContentRequest.Content?
        var finishReason: String?
    }
    struct Usage: Decodable {
        var promptTokenCount: Int?
        var candidatesTokenCount: Int?
        /// Thinking models count their thoughts apart; they are billed as output.
        var thoughtsTokenCount: Int?
    }
    struct Feedback: Decodable {
        var blockReason: String?
    }
    var candidates: [Candidate]?
    var usageMetadata: Usage?
    var promptFeedback: Feedback?
}

/// Google's error body: `{"error": {"code", "message", "status", "details": [{"@type", "retryDelay"}]}}`.
struct GeminiErrorBody: Decodable {
    struct Inner: Decodable {
        var code: Int?
        var message: String?
        var status: String?
        var details: [Detail]?

        /// The wait a `google.rpc.RetryInfo` detail asks for.
        var retryDelay: Duration? {
            details?.lazy.filter { $0.type?.hasSuffix("google.rpc.RetryInfo") == true }.compactMap(\.retryDelay).first
                .flatMap(GeminiErrorBody.duration)
        }
    }
    struct Detail: Decodable {
        var type: String?
        var retryDelay: String?

        enum CodingKeys: String, CodingKey {
            case type = "@type"
            case retryDelay
        }
    }
    var error: Inner

    /// A protobuf JSON duration (`"30s"`, `"1.5s"`) or a `Retry-After` in seconds (`"30"`); `nil` for anything else,
    /// a negative or non-finite value, or more than a day.
    static func duration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.hasSuffix("s") ? String(trimmed.dropLast()) : trimmed
        guard number.count <= 20, let seconds = Double(number), seconds.isFinite, (0...86_400).contains(seconds) else { return nil }
        return .milliseconds(Int64((seconds * 1_000).rounded(.up)))
    }
}
