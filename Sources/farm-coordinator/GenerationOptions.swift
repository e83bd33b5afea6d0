import ArgumentParser
import Coordinator
import Foundation
import Logging

/// Script generation from prompts (`POST /v1/generations`): off unless a provider is named.
struct GenerationOptions: ParsableArguments {
    @Option(help: "Write scripts from prompts with this provider: `gemini`. Default $FARM_GENERATION_PROVIDER, else off.")
    var generationProvider: String?

    @Option(help: "Gemini model (default $GEMINI_MODEL, else gemini-2.5-flash).")
    var geminiModel: String?

    @Option(help: "Gemini's REST endpoint (default https://generativelanguage.googleapis.com; for tests, a local server).")
    var geminiEndpoint: String?

    @Option(help: "File holding the Gemini API key, read at every call (a secret store's agent may rotate it); default $GEMINI_API_KEY.")
    var geminiApiKeyFile: String?

    @Option(help: "Seconds one call to the model may take before it is abandoned and retried.")
    var geminiTimeout = 120.0

    @Option(help: "Calls per answer on rate limits (429), server errors, timeouts and unreadable answers, the first included.")
    var geminiAttempts = 4

    @Option(help: "US dollars per million input tokens, for the teams' cost budgets.")
    var geminiInputPrice = 0.30

    @Option(help: "US dollars per million output (and thinking) tokens.")
    var geminiOutputPrice = 2.50

    @Option(help: "Scripts per generation: the first and its repairs.")
    var generationRounds = 3

    @Option(help: "Seconds a generated script's planning pass may take, queueing included.")
    var generationCheckTimeout = 600.0

    /// The settings these options describe; `nil` when generation stays off.
    func settings(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> GenerationSettings? {
        guard let provider = generationProvider ?? environment["FARM_GENERATION_PROVIDER"], !provider.isEmpty else { return nil }
        guard provider == "gemini" else { throw ValidationError("--generation-provider takes gemini, got \(provider)") }
        let key: GenerationSecret
        if let file = geminiApiKeyFile {
            key = .file(file)
            // Not a reason to refuse to start (a secret store may write it later): jobs fail saying so until it is there.
            do { _ = try key.read() } catch {
                Logger(label: "farm.coordinator").warning("script generation has no API key yet", metadata: ["error": "\(error)"])
            }
        } else if let value = environment["GEMINI_API_KEY"], !value.isEmpty {
            key = .value(value)
        } else {
            throw ValidationError("--generation-provider gemini needs a key: GEMINI_API_KEY in the environment, or --gemini-api-key-file")
        }
        guard geminiTimeout.isFinite, (1...3_600).contains(geminiTimeout) else { throw ValidationError("--gemini-timeout takes 1 to 3600 seconds") }
        guard (1...10).contains(geminiAttempts) else { throw ValidationError("--gemini-attempts takes 1 to 10") }
        guard (1...10).contains(generationRounds) else { throw ValidationError("--generation-rounds takes 1 to 10") }
        guard generationCheckTimeout.isFinite, (10...86_400).contains(generationCheckTimeout) else {
            throw ValidationError("--generation-check-timeout takes 10 to 86400 seconds")
        }
        for price in [geminiInputPrice, geminiOutputPrice] where !(price.isFinite && (0...10_000).contains(price)) {
            throw ValidationError("prices are US dollars per million tokens, 0 to 10000")
        }
        let endpoint = try geminiEndpoint.map { try Serve.httpURL($0, option: "--gemini-endpoint") } ?? GeminiModel.Configuration.defaultEndpoint
        let model = geminiModel ?? environment["GEMINI_MODEL"] ?? GeminiModel.Configuration.defaultModel
        guard (1...100).contains(model.utf8.count), model.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) }) else {
            throw ValidationError("--gemini-model takes a model name such as gemini-2.5-flash, got \(model.prefix(100))")
        }
        let gemini = GeminiModel(.init(
            endpoint: endpoint, model: model, apiKey: key, timeout: .milliseconds(Int64(geminiTimeout * 1_000)), attempts: geminiAttempts,
            prices: ModelPrices(inputPerMillion: geminiInputPrice, outputPerMillion: geminiOutputPrice)))
        return GenerationSettings(model: gemini, maxRounds: generationRounds,
                                  checkTimeout: .milliseconds(Int64(generationCheckTimeout * 1_000)))
    }
}
