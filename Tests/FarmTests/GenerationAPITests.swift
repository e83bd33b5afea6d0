@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import HummingbirdTesting
import Testing

/// `POST /v1/generations` in process: off unless configured, and refusals naming their field. (Jobs run on a farm
/// with agents: `GenerationFarmTests`.)
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
}
