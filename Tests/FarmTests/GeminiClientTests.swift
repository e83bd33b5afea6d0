@testable import Coordinator
import Foundation
import Testing

/// The Gemini client against a local server speaking `generateContent`'s JSON: the request it sends, the
/// answers it reads, and what it does with rate limits, server errors, slow answers and unreadable ones.
@Suite struct GeminiClientTests {
    static let script = "from manim import *\n\nclass Hello(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()))\n"

    static func model(_ endpoint: String, key: String, timeout: Duration = .seconds(10), attempts: Int = 3) -> GeminiModel {
        GeminiModel(.init(endpoint: URL(string: endpoint)!, model: "gemini-test", apiKey: .value(key), timeout: timeout,
                          attempts: attempts, baseDelay: .milliseconds(50), maxDelay: .milliseconds(200), maxRetryDelay: .seconds(5),
                          prices: ModelPrices(inputPerMillion: 1, outputPerMillion: 2)))
    }

    @Test func theRequestHasGeminisShapeAndTheAnswerItsTextAndTokens() async throws {
        let fake = FakeGemini()
        fake.answer(.text("```python\n\(Self.script)```", promptTokens: 1_000, outputTokens: 250))
        let reply = try await fake.serve { endpoint in
            try await Self.model(endpoint, key: fake.key).write(
                system: "the rules", conversation: [ModelTurn(.person, "a dot"), ModelTurn(.model, "```python\nx```"), ModelTurn(.person, "fix it")])
        }
        #expect(reply.text.contains("class Hello(Scene)"))
        #expect(reply.promptTokens == 1_000 && reply.outputTokens == 250)
        let sent = try #require(fake.requests.first)
        #expect(fake.requests.count == 1)
        #expect(sent.model == "gemini-test" && sent.key == fake.key)
        #expect(sent.system == "the rules")
        #expect(sent.roles == ["user", "model", "user"])
        #expect(sent.lastText == "fix it")
        let config = sent.body["generationConfig"] as? [String: Any] ?? [:]
        #expect(config["maxOutputTokens"] as? Int ?? 0 > 0, "\(config)")
        #expect(ModelPrices(inputPerMillion: 1, outputPerMillion: 2).dollars(promptTokens: 1_000_000, outputTokens: 500_000) == 2)
    }

    @Test func aRateLimitIsRetriedAfterTheDelayItNamesAndALongOneIsNotWaitedFor() async throws {
        let fake = FakeGemini()
        fake.answer(.rateLimited(retryDelay: "1.2s"), .text("```python\n\(Self.script)```"))
        _ = try await fake.serve { endpoint in try await Self.model(endpoint, key: fake.key).write(system: "s", conversation: [ModelTurn(.person, "p")]) }
        let times = fake.requests.map(\.at)
        #expect(times.count == 2)
        if times.count == 2 { #expect(times[1] - times[0] >= .milliseconds(1_200), "waited \(times[1] - times[0]) as the answer asked") }

        let patient = FakeGemini()
        patient.answer(.rateLimited(retryDelay: "3600s"))
        await #expect(throws: ModelFailure.rateLimited(retryAfter: 3_600, message: "Resource has been exhausted (e.g. check quota).")) {
            _ = try await patient.serve { endpoint in
                try await Self.model(endpoint, key: patient.key).write(system: "s", conversation: [ModelTurn(.person, "p")])
            }
        }
        #expect(patient.requests.count == 1, "an hour is longer than the farm waits: no second call")
    }

    @Test func aSlowAnswerIsAbandonedAtTheTimeoutAndRetried() async throws {
        let fake = FakeGemini(fallback: .slow(.seconds(30), .text("late")))
        let started = ContinuousClock.now
        await #expect(throws: ModelFailure.timeout(seconds: 0.5, attempts: 2)) {
            _ = try await fake.serve { endpoint in
                try await Self.model(endpoint, key: fake.key, timeout: .milliseconds(500), attempts: 2)
                    .write(system: "s", conversation: [ModelTurn(.person, "p")])
            }
        }
        #expect(ContinuousClock.now - started < .seconds(10), "abandoned, not waited out")
        #expect(fake.requests.count == 2)

        let once = FakeGemini()
        once.answer(.slow(.seconds(30), .text("late")), .text("```python\n\(Self.script)```"))
        let reply = try await once.serve { endpoint in
            try await Self.model(endpoint, key: once.key, timeout: .milliseconds(500)).write(system: "s", conversation: [ModelTurn(.person, "p")])
        }
        #expect(reply.text.contains("Hello"))
    }

    @Test func malformedAnswersAreRetriedThenReported() async throws {
        let fake = FakeGemini()
        fake.answer(.malformed("{\"candidates\": [ {\"content\": "), .text("```python\n\(Self.script)```"))
        let reply = try await fake.serve { endpoint in
            try await Self.model(endpoint, key: fake.key).write(system: "s", conversation: [ModelTurn(.person, "p")])
        }
        #expect(reply.text.contains("Hello") && fake.requests.count == 2)

        let broken = FakeGemini(fallback: .malformed("<html>502 Bad Gateway</html>"))
        do {
            _ = try await broken.serve { endpoint in
                try await Self.model(endpoint, key: broken.key).write(system: "s", conversation: [ModelTurn(.person, "p")])
            }
            Issue.record("an unreadable answer is not a reply")
        } catch let failure as ModelFailure {
            guard case .malformed(let why) = failure else { Issue.record("\(failure)"); return }
            #expect(why.contains("502 Bad Gateway"), "the answer's start is quoted: \(why)")
        }
        #expect(broken.requests.count == 3)
    }

    @Test func serverErrorsAreRetriedAndRefusalsAndBlocksAreFinal() async throws {
        let fake = FakeGemini()
        fake.answer(.error(status: 503, googleStatus: "UNAVAILABLE", message: "The model is overloaded."), .text("```python\n\(Self.script)```"))
        _ = try await fake.serve { endpoint in try await Self.model(endpoint, key: fake.key).write(system: "s", conversation: [ModelTurn(.person, "p")]) }
        #expect(fake.requests.count == 2)

        let wrongKey = FakeGemini()
        await #expect(throws: ModelFailure.refused(status: 400, message: "API key not valid. Please pass a valid API key.")) {
            _ = try await wrongKey.serve { endpoint in
                try await Self.model(endpoint, key: "not-the-key").write(system: "s", conversation: [ModelTurn(.person, "p")])
            }
        }
        #expect(wrongKey.requests.count == 1, "a refusal is not retried")

        let blocked = FakeGemini()
        blocked.answer(.blocked("SAFETY"))
        await #expect(throws: ModelFailure.blocked("the prompt was blocked (SAFETY)")) {
            _ = try await blocked.serve { endpoint in
                try await Self.model(endpoint, key: blocked.key).write(system: "s", conversation: [ModelTurn(.person, "p")])
            }
        }
    }

    @Test func scriptsAreTakenFromFencedBlocksAndLengthsJudgedAgainstTheTarget() {
        #expect(GenerationPrompts.script(in: "Sure!\n```python\nfrom manim import *\nclass A(Scene): pass\n```\nEnjoy") == "from manim import *\nclass A(Scene): pass\n")
        #expect(GenerationPrompts.script(in: "```\nimport math\nclass A(Scene): pass\n```") == "import math\nclass A(Scene): pass\n")
        #expect(GenerationPrompts.script(in: "from manim import *\nclass A(Scene): pass") == "from manim import *\nclass A(Scene): pass\n")
        #expect(GenerationPrompts.script(in: "I cannot help with that.") == nil)
        #expect(GenerationPrompts.script(in: "```python\n```") == nil)
        #expect(GenerationPrompts.lengthProblem(planned: 20, target: 30) == nil)
        #expect(GenerationPrompts.lengthProblem(planned: 14, target: 30)?.contains("14.0 s") == true)
        #expect(GenerationPrompts.lengthProblem(planned: 61, target: 30) != nil)
        #expect(GeminiErrorBody.duration("1.5s") == .milliseconds(1_500))
        #expect(GeminiErrorBody.duration("30") == .seconds(30))
        #expect(GeminiErrorBody.duration("-1s") == nil && GeminiErrorBody.duration("nan") == nil && GeminiErrorBody.duration("1e300s") == nil)
    }
}
