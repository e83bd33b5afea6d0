import Metrics

/// What script generation costs and how it goes, for `/metrics`: jobs by outcome, rounds by where they ended
/// (accepted, or the stage that refused the script), the model's tokens and calls that failed after retries.
struct GenerationMetrics: Sendable {
    static let outcomes = ["done", "failed"]
    static let stages = ["accepted", "model", "script", "scene discovery", "submission", "planning", "length", "interrupted", "farm"]

    let jobs = Dictionary(uniqueKeysWithValues: outcomes.map { ($0, Counter(label: "farm_generations_total", dimensions: [("outcome", $0)])) })
    let rounds = Dictionary(uniqueKeysWithValues: stages.map {
        ($0, Counter(label: "farm_generation_rounds_total", dimensions: [("ended", $0.replacingOccurrences(of: " ", with: "_"))]))
    })
    let promptTokens = Counter(label: "farm_generation_tokens_total", dimensions: [("kind", "prompt")])
    let outputTokens = Counter(label: "farm_generation_tokens_total", dimensions: [("kind", "output")])

    func ended(_ round: String?) {
        rounds[round ?? "accepted"]?.increment()
    }
}
