@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import HummingbirdTesting
import Testing

/// `POST /v1/generations` in process: off unless configured, refusals naming their field, and the team's daily
/// token and cost budget, counted from what the model (a local server speaking Gemini's JSON) reports.
@Suite struct GenerationAPITests {
    @Test func withoutAProviderTheRouteSaysHowToConfigureOne() async throws {
        try await APIFixture.with(generation: nil) { client, farm in
            let response = try await client.call(.post, "/v1/generations", key: farm.adminKey, body: GenerationRequest(prompt: "a dot"))
            #expect(response.status == .forbidden)
            #expect(response.text.contains("--generation-provider gemini") && response.text.contains("GEMINI_API_KEY"), "\(response.text)")
            let list = try await client.call(.get, "/v1/generations", key: farm.adminKey).decode(GenerationPage.self)
            #expect(list.generations.isEmpty)
        }
    }

    @Test func refusalsNameTheirField() async throws {
        try await APIFixture.with { client, farm in
            let (_, creator) = try await farm.user("ann", team: "physics", role: .creator)
            let cases: [(GenerationRequest, String)] = [
                (GenerationRequest(prompt: "   "), "prompt"),
                (GenerationRequest(prompt: String(repeating: "x", count: 4_001)), "prompt"),
                (GenerationRequest(prompt: "a dot", style: String(repeating: "s", count: 501)), "style"),
                (GenerationRequest(prompt: "a dot", targetSeconds: 1), "targetSeconds"),
                (GenerationRequest(prompt: "a dot", targetSeconds: 1e308), "targetSeconds"),
                (GenerationRequest(prompt: "a dot", priority: 5), "priority"),
            ]
            for (request, field) in cases {
                let response = try await client.call(.post, "/v1/generations", key: creator, body: request)
                #expect([.unprocessableContent, .forbidden].contains(response.status), "\(field): \(response.text)")
                #expect(response.headers[FarmAPI.fieldHeader] == field, "\(response.text)")
            }
            #expect(try await farm.store.generations(userID: nil, limit: 10).isEmpty, "nothing refused was stored")
        }
    }

    @Test func aJobThatNeverPassesDiscoveryFailsAndItsTokensCountAgainstTheTeamsBudget() async throws {
        let fake = FakeGemini()
        let broken = "from manim import *\n\nclass Oops(Scene):\n    def construct(self)\n        pass\n"
        fake.answer(FakeGemini.script(broken), .text("I would rather describe it in words.", promptTokens: 2_000, outputTokens: 40))
        try await fake.serve { endpoint in
            let model = GeminiModel(.init(endpoint: URL(string: endpoint)!, model: "gemini-test", apiKey: .value(fake.key),
                                          prices: ModelPrices(inputPerMillion: 100, outputPerMillion: 1_000)))
            try await APIFixture.with(generation: GenerationSettings(model: model, maxRounds: 2)) { client, farm in
                let (user, key) = try await farm.user("ann", team: "physics", role: .creator)
                let accepted = try await client.call(.post, "/v1/generations", key: key, body: GenerationRequest(prompt: "a dot"))
                #expect(accepted.status == .accepted)
                let job = try accepted.decode(GenerationRecord.self)
                #expect(accepted.headers[.location] == "/v1/generations/\(job.id)" && job.state == .queued && job.userID == user.id)

                let generations = try #require(farm.api.generations)
                await generations.run(job.id)
                let ended = try await client.call(.get, "/v1/generations/\(job.id)", key: key).decode(GenerationRecord.self)
                #expect(ended.state == .failed)
                #expect(ended.rounds.map(\.stage) == ["scene discovery", "script"])
                #expect(ended.rounds[0].error?.contains("syntax error at line 4") == true)
                #expect(ended.rounds[1].error == "the answer held no Python code block")
                #expect(ended.tokens == 1_500 + 2_040)
                // The second request repaired the first script: the error went back to the model.
                #expect(fake.requests.count == 2 && fake.requests[1].lastText.contains("syntax error at line 4"))

                // Both calls were counted against the team's day: 3,540 tokens, $0.12 + $0.30 + $0.20 + $0.04.
                let team = try #require(try await farm.store.team("physics"))
                let day = UsageMeter.day(of: Date())
                #expect(try await farm.store.usage(teamID: team.id, counter: Generations.tokenCounter, windowStart: day) == 3_540)
                let dollars = try await farm.store.usage(teamID: team.id, counter: Generations.costCounter, windowStart: day) / 1e6
                #expect(abs(dollars - 0.66) < 1e-9, "\(dollars)")

                // Past either budget, the next prompt is refused until midnight UTC.
                try await farm.setQuotas(team: "physics") { $0.generationDollarsPerDay = 0.5 }
                let refused = try await client.call(.post, "/v1/generations", key: key, body: GenerationRequest(prompt: "a square"))
                #expect(refused.status == .tooManyRequests && refused.text.contains("generationDollarsPerDay"), "\(refused.text)")
                let retryAfter = Int(refused.headers[.retryAfter] ?? "") ?? 0
                #expect((1...86_401).contains(retryAfter))
                try await farm.setQuotas(team: "physics") {
                    $0.generationDollarsPerDay = 100
                    $0.generationTokensPerDay = 3_000
                }
                let tokens = try await client.call(.post, "/v1/generations", key: key, body: GenerationRequest(prompt: "a square"))
                #expect(tokens.status == .tooManyRequests && tokens.text.contains("3540 of its 3000"), "\(tokens.text)")
            }
        }
    }
}
