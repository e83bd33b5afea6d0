import FarmModel
import FarmStorage
import Foundation
import Testing

/// Generation jobs in both stores: whole records back as written, the lookups the coordinator makes, and an ended
/// job that no late write changes.
@Suite struct GenerationStoreTests {
    static func job(_ id: String, user: String, at seconds: Double, state: GenerationState = .queued) -> GenerationRecord {
        var job = GenerationRecord(id: id, request: GenerationRequest(prompt: "a dot, ünïcode ✓", style: "calm", quality: .low, targetSeconds: 12.5),
                                   submitter: user, provider: "gemini", model: "gemini-test", createdAt: Date(timeIntervalSince1970: seconds))
        job.userID = user
        job.teamID = "t1"
        job.state = state
        return job
    }

    @Test(arguments: StoreKind.allCases)
    func jobsComeBackWholeAndAreFoundAsTheCoordinatorLooksForThem(_ kind: StoreKind) async throws {
        let store = try #require(try await kind.make() as? any GenerationStore)
        var first = Self.job("g000000000001", user: "ann", at: 1_000)
        var round = GenerationRound(number: 1, request: "Write a Manim script…", startedAt: Date(timeIntervalSince1970: 1_000.25))
        round.script = "from manim import *\n"
        round.error = "planning failed (script-error): NameError: name 'Circel' is not defined"
        round.stage = "planning"
        round.promptTokens = 1_200
        round.endedAt = Date(timeIntervalSince1970: 1_003.5)
        first.rounds = [round]
        first.tokens = 1_500
        first.costUSD = 0.0012
        try await store.saveGeneration(first)
        #expect(try await store.generation(id: first.id) == first)

        try await store.saveGeneration(Self.job("g000000000002", user: "ann", at: 2_000, state: .writing))
        try await store.saveGeneration(Self.job("g000000000003", user: "bob", at: 3_000, state: .done))
        #expect(try await store.generations(userID: "ann", limit: 10).map(\.id) == ["g000000000002", "g000000000001"])
        #expect(try await store.generations(userID: nil, limit: 2).map(\.id) == ["g000000000003", "g000000000002"])
        #expect(try await store.unfinishedGenerations().map(\.id) == ["g000000000001", "g000000000002"])

        // The script cache: the newest job accepted under a key.
        for (id, at) in [("g000000000004", 4_000.0), ("g000000000005", 5_000.0)] {
            var accepted = Self.job(id, user: "ann", at: at, state: .done)
            accepted.cacheKey = "gen-abc"
            accepted.script = "from manim import *  # \(id)\n"
            try await store.saveGeneration(accepted)
        }
        #expect(try await store.generation(cacheKey: "gen-abc")?.id == "g000000000005")
        #expect(try await store.generation(cacheKey: "gen-other") == nil)

        // An ended job stays as it ended, whatever a late write says.
        first.state = .cancelled
        try await store.saveGeneration(first)
        var late = first
        late.state = .validating
        late.rounds = []
        try await store.saveGeneration(late)
        #expect(try await store.generation(id: first.id) == first)

        #expect(try await store.deleteGenerations(userID: "ann") == 4)
        #expect(try await store.generations(userID: "ann", limit: 10).isEmpty)
        #expect(try await store.generation(id: "g000000000003") != nil, "another user's stay")
    }
}
