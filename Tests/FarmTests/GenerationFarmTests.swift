import FarmModel
import Foundation
import Testing

/// Prompts to videos on a real farm: the coordinator asks a local server that speaks Gemini's `generateContent`
/// (no network is reachable here) for scripts, checks each through scene discovery and a real planning pass on an
/// agent in the sandbox, feeds errors back, and renders the script that plans cleanly.
@Suite(.serialized) struct GenerationFarmTests {
    static let valid = """
        from manim import *

        class DrawACircle(Scene):
            def construct(self):
                self.play(Create(Circle()), run_time=1)
                self.wait(0.5)

        class MoveASquare(Scene):
            def construct(self):
                square = Square()
                self.play(FadeIn(square), run_time=0.5)
                self.play(square.animate.shift(RIGHT), run_time=1)

        """
    static let misspelt = valid.replacingOccurrences(of: "Create(Circle())", with: "Create(Circel())")

    /// A farm of one agent whose coordinator writes scripts with `fake`.
    static func farm(_ fake: FakeGemini, endpoint: String, extra: [String] = []) async throws -> FarmHarness {
        try await FarmHarness(agents: [[]], coordinatorArguments: [
            "--generation-provider", "gemini", "--gemini-endpoint", endpoint,
            "--gemini-model", "gemini-test",
        ] + extra, environment: ["GEMINI_API_KEY": fake.key])
    }

    static func generate(_ farm: FarmHarness, _ request: GenerationRequest) async throws -> GenerationRecord {
        let (status, body) = try await farm.send("POST", "/v1/generations", body: JSONEncoder().encode(request))
        #expect(status == 202, "\(String(decoding: body, as: UTF8.self))")
        return try Self.decode(body)
    }

    static func waitUntilFinal(_ farm: FarmHarness, _ id: String, timeout: Duration = .seconds(240)) async throws -> GenerationRecord {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let job: GenerationRecord = try await farm.get("/v1/generations/\(id)")
            if job.state.isFinal { return job }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw HarnessError("generation \(id) did not end within \(timeout); see \(farm.directory.path)")
    }

    static func decode(_ body: Data) throws -> GenerationRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(GenerationRecord.self, from: body)
    }

    @Test func aPromptBecomesAVideoAndTheSamePromptReusesItsScript() async throws {
        let fake = FakeGemini()
        fake.answer(FakeGemini.script(Self.valid))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint)
            let request = GenerationRequest(prompt: "A circle is drawn, then a square slides right.", style: "plain",
                                            quality: .low, targetSeconds: 5)
            let accepted = try await Self.generate(farm, request)
            let job = try await Self.waitUntilFinal(farm, accepted.id)
            #expect(job.state == .done, "\(job.error ?? "") \(job.rounds.map { $0.error ?? "" })")
            #expect(job.rounds.count == 1 && job.rounds[0].error == nil)
            #expect(job.script == Self.valid)
            #expect(job.provider == "gemini" && job.model == "gemini-test" && job.manimVersion == "0.22.0")
            #expect(job.tokens == 1_500 && job.costUSD > 0)
            let planned = try #require(job.rounds[0].plannedSeconds)
            #expect(abs(planned - 3) < 0.01, "the planning pass measured the script: \(planned) s")

            // The check ran the planning pass only; the video rendered both scenes.
            let check: VideoStatus = try await farm.get("/v1/videos/\(try #require(job.rounds[0].validationVideo))")
            #expect(check.state == .done && check.validateOnly == true && check.outputs == nil && check.scenes.isEmpty)
            let video = try await farm.waitUntilFinal(try #require(job.videoID))
            #expect(video.state == .done && video.scenes.map(\.name) == ["DrawACircle", "MoveASquare"])
            #expect(video.outputs != nil)
            #expect(video.plan?.note == "plan from the cache", "the check's plan served the video: \(video.plan?.note ?? "")")

            // What the model was told: the installed Manim's names and the farm's rules, then the prompt.
            let sent = try #require(fake.requests.first)
            #expect(sent.system.contains("Manim Community 0.22.0"))
            for name in ["Circle(", "FadeIn(", "MovingCameraScene", "MathTex(", "without network"] {
                #expect(sent.system.contains(name), "the system prompt has \(name)")
            }
            #expect(sent.lastText.contains(request.prompt) && sent.lastText.contains("plain") && sent.lastText.contains("5 seconds"))

            // The same prompt again: the script is reused without asking the model; asked for a fresh one, it asks.
            let again = try await Self.waitUntilFinal(farm, try await Self.generate(farm, request).id)
            #expect(again.state == .done && again.reusedFrom == job.id && again.rounds.isEmpty && again.script == Self.valid)
            #expect(fake.requests.count == 1)
            var fresh = request
            fresh.fresh = true
            fake.answer(FakeGemini.script(Self.valid))
            let asked = try await Self.waitUntilFinal(farm, try await Self.generate(farm, fresh).id)
            #expect(asked.state == .done && asked.reusedFrom == nil && asked.rounds.count == 1)
            #expect(fake.requests.count == 2)

            let page: GenerationPage = try await farm.get("/v1/generations")
            #expect(page.generations.map(\.id) == [asked.id, again.id, job.id])
            // What an operator watches: jobs by outcome, rounds by where they ended, tokens.
            let metrics = String(decoding: try await farm.send("GET", "/metrics").body, as: UTF8.self)
            for line in [#"farm_generations_total{outcome="done"} 3"#, #"farm_generation_rounds_total{ended="accepted"} 2"#,
                         #"farm_generation_tokens_total{kind="prompt"} 2400"#, #"farm_generation_tokens_total{kind="output"} 600"#] {
                #expect(metrics.contains(line), "\(line) in /metrics")
            }
        }
    }

    @Test func aWrongNameIsFedBackAndTheRepairedScriptRenders() async throws {
        let fake = FakeGemini()
        fake.answer(FakeGemini.script(Self.misspelt), FakeGemini.script(Self.valid))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint)
            // Through the CLI: each round as it ends, then the video's progress and where it is.
            let run = try farm.cli(["generate", "A circle, then a square.", "--quality", "low", "--seconds", "5", "--wait",
                                    "--coordinator", farm.http.absoluteString])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("round 1: planning: planning failed (script-error): NameError: name 'Circel' is not defined"),
                    "\(run.stderr)")
            #expect(run.stderr.contains("round 2: accepted, 3.0 s planned"), "\(run.stderr)")
            #expect(run.stdout.contains("master playlist:"), "\(run.stdout)")
            let id = try #require(run.stderr.split(separator: "\n").first { $0.hasPrefix("generation g") }?
                .dropFirst("generation ".count).prefix(13))
            // The CLI followed the video; the job ends with it, when it next looks (within a second).
            let job = try await Self.waitUntilFinal(farm, String(id))
            #expect(job.state == .done, "\(job.error ?? "")")
            let script = try farm.cli(["generation", String(id), "--script", "--coordinator", farm.http.absoluteString])
            #expect(script.status == 0 && script.stdout == Self.valid, "\(script.stdout)")
            try #require(job.rounds.count == 2)
            let first = job.rounds[0]
            #expect(first.stage == "planning" && first.script == Self.misspelt)
            #expect(first.error?.contains("Circel") == true, "the planning pass's error: \(first.error ?? "")")
            #expect(job.rounds[1].error == nil && job.script == Self.valid)
            // The repair request carried the error, after the model's own first script.
            let repair = try #require(fake.requests.last)
            #expect(repair.roles == ["user", "model", "user"])
            #expect(repair.lastText.contains("Circel") && repair.lastText.contains("planning"), "\(repair.lastText.prefix(600))")
            #expect(FakeGemini.Received.text(repair.contents[1]).contains("Create(Circel())"))
            #expect(try await farm.waitUntilFinal(try #require(job.videoID)).state == .done)
        }
    }

    /// The "Describe a video" page in headless Chromium, with the keyboard only: a refusal beside its field, then
    /// the job's rounds appearing on the page (the misspelt script's error, then the repaired one), then its video.
    @Test func thePromptBoxShowsEachRoundAndLeadsToTheVideo() async throws {
        let fake = FakeGemini()
        fake.answer(FakeGemini.script(Self.misspelt), FakeGemini.script(Self.valid))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint)
            let walk = FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures/generate_walk.py").path
            let output = try run(FarmHarness.python, [walk, farm.http.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/")),
                                                      try farm.adminKey, "A circle is drawn, then a square slides right.",
                                                      farm.directory.appendingPathComponent("screenshots").path]).stdout
            let report = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output.prefix(2000))")
            #expect(report["error"] == nil, "the walk stopped: \(report["error"] ?? "") after \(report["steps"] ?? []); \(String(describing: report["console"]))")
            #expect((report["promptError"] as? String)?.isEmpty == false && report["focusAfterRefusal"] as? String == "prompt")
            let rounds = report["rounds"] as? [String] ?? []
            #expect(rounds.count == 2, "\(rounds)")
            #expect(rounds.first?.contains("Round 1: planning: planning failed") == true && rounds.first?.contains("Circel") == true, "\(rounds)")
            #expect(rounds.last?.hasPrefix("Round 2: accepted, 3.0 s planned") == true, "\(rounds)")
            let jobID = try #require((report["jobURL"] as? String)?.components(separatedBy: "/generate?job=").last, "\(report["jobURL"] ?? "")")
            #expect(jobID.hasPrefix("g") && jobID.count == 13)
            let recent = report["recent"] as? [String] ?? []
            #expect(recent.contains { $0.hasSuffix("/generate?job=\(jobID)") }, "the job is listed among the recent ones: \(recent)")
            let axe = report["axe"] as? [String: [[String: Any]]] ?? [:]
            #expect(Set(axe.keys) == ["generate", "generate-done"])
            for (page, violations) in axe { #expect(violations.isEmpty, "axe on \(page): \(violations)") }
            let video = try await farm.waitUntilFinal(try #require(report["videoID"] as? String))
            #expect(video.state == .done && video.scenes.count == 2)
        }
    }

    @Test func aScriptThatNeverPlansFailsTheJobWithTheLastErrorAfterTheRoundLimit() async throws {
        let fake = FakeGemini()
        let tooShort = "from manim import *\n\nclass Blink(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.2)\n"
        let badTeX = "from manim import *\n\nclass Sum(Scene):\n    def construct(self):\n        self.play(Write(MathTex(r\"\\fracc{1}{2}\")))\n"
        fake.answer(FakeGemini.script("from manim import *\n\nclass Broken(Scene):\n    def construct(self)\n        pass\n"),
                    FakeGemini.script(badTeX), FakeGemini.script(tooShort), FakeGemini.script(Self.valid))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint, extra: ["--generation-rounds", "3"])
            let accepted = try await Self.generate(farm, GenerationRequest(prompt: "A dot.", quality: .low, targetSeconds: 20))
            let job = try await Self.waitUntilFinal(farm, accepted.id)
            #expect(job.state == .failed && job.videoID == nil)
            #expect(job.rounds.map(\.stage) == ["scene discovery", "planning", "length"])
            #expect(job.rounds[0].error?.contains("syntax error at line 4") == true, "\(job.rounds[0].error ?? "")")
            #expect(job.rounds[1].error?.contains("latex error converting to dvi") == true,
                    "TeX that does not compile (an undefined control sequence): \(job.rounds[1].error ?? "")")
            #expect(job.error?.contains("no script planned cleanly in 3 rounds") == true, "\(job.error ?? "")")
            #expect(job.error?.contains("runs 0.2 s") == true, "the last error: \(job.error ?? "")")
            #expect(fake.requests.count == 3, "no fourth round")
        }
    }

    @Test func anAcceptedJobSurvivesACoordinatorKilledInTheMiddleOfARound() async throws {
        let fake = FakeGemini()
        fake.answer(.slow(.seconds(120), .text("never read")), FakeGemini.script(Self.valid))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint)
            let accepted = try await Self.generate(farm, GenerationRequest(prompt: "A circle, then a square.", quality: .low, targetSeconds: 5))
            let deadline = ContinuousClock.now + .seconds(30)
            while fake.requests.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            try #require(fake.requests.count == 1, "the first round is waiting on the model")
            farm.killCoordinator()
            try await farm.restartCoordinator()

            let job = try await Self.waitUntilFinal(farm, accepted.id)
            #expect(job.state == .done, "\(job.error ?? "")")
            #expect(job.rounds.map(\.stage) == ["interrupted", nil], "the cut-short round is told so")
            // The new round asked from the prompt again: the interrupted one had no answer to repair.
            #expect(fake.requests.count == 2 && fake.requests[1].roles == ["user"])
            #expect(try await farm.waitUntilFinal(try #require(job.videoID)).state == .done)
        }
    }

    @Test func aUsersPromptsAndScriptsAreExportedAndErasedWithTheirData() async throws {
        let marker = "ERASE-ME-\(UUID().uuidString)"
        let fake = FakeGemini()
        fake.answer(FakeGemini.script("# \(marker)\n" + Self.valid))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint)
            let (_, userBody) = try await farm.send("POST", "/v1/users", body: JSONEncoder().encode(
                CreateUserRequest(name: "ann", team: "physics", role: .creator)))
            let ann = try JSONDecoder.farm.decode(UserInfo.self, from: userBody)
            let (_, keyBody) = try await farm.send("POST", "/v1/users/\(ann.id)/keys", body: JSONEncoder().encode(CreateKeyRequest()))
            let key = try JSONDecoder.farm.decode(CreatedKey.self, from: keyBody).key
            let (code, body) = try await farm.send("POST", "/v1/generations", body: JSONEncoder().encode(
                GenerationRequest(prompt: "A circle and a square, \(marker)", quality: .low, targetSeconds: 5)), apiKey: key)
            #expect(code == 202)
            let job = try await Self.waitUntilFinal(farm, try Self.decode(body).id)
            #expect(job.state == .done, "\(job.error ?? "")")
            #expect(try await farm.send("GET", "/v1/generations/\(job.id)", apiKey: key).status == 200, "the owner reads it")
            let data = farm.directory.appendingPathComponent("coordinator")
            #expect(!PrivacyTests.files(under: data, containing: marker).isEmpty)

            let (_, archive) = try await farm.send("GET", "/v1/users/\(ann.id)/export", apiKey: key)
            let exported = String(decoding: try #require(PrivacyTests.untar(archive)["manimfarm-export/generations.json"]), as: UTF8.self)
            #expect(exported.contains(job.id) && exported.contains(marker))

            let (eraseCode, reportBody) = try await farm.send("DELETE", "/v1/users/\(ann.id)", apiKey: key)
            #expect(eraseCode == 200)
            let report = try JSONDecoder.farm.decode(ErasureReport.self, from: reportBody)
            #expect(report.generationsDeleted == 1 && report.videos == 2, "the job, its check and its video: \(report)")
            #expect(PrivacyTests.files(under: data, containing: marker) == [], "no byte of the prompt or the script is left")
            #expect(try await farm.send("GET", "/v1/generations/\(job.id)").status == 404)
        }
    }

    @Test func everyCallCountsAgainstTheTeamsDailyTokenAndCostBudget() async throws {
        let fake = FakeGemini()
        let broken = "from manim import *\n\nclass Oops(Scene):\n    def construct(self)\n        pass\n"
        fake.answer(FakeGemini.script(broken), .text("I would rather describe it in words.", promptTokens: 2_000, outputTokens: 40))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint, extra: [
                "--generation-rounds", "2", "--gemini-input-price", "100", "--gemini-output-price", "1000",
            ])
            let (_, userBody) = try await farm.send("POST", "/v1/users", body: JSONEncoder().encode(
                CreateUserRequest(name: "ann", team: "physics", role: .creator)))
            let ann = try JSONDecoder.farm.decode(UserInfo.self, from: userBody)
            let (_, keyBody) = try await farm.send("POST", "/v1/users/\(ann.id)/keys", body: JSONEncoder().encode(CreateKeyRequest()))
            let key = try JSONDecoder.farm.decode(CreatedKey.self, from: keyBody).key
            func generate(_ prompt: String) async throws -> (status: Int, body: Data) {
                try await farm.send("POST", "/v1/generations", body: JSONEncoder().encode(GenerationRequest(prompt: prompt)), apiKey: key)
            }
            let (code, body) = try await generate("a dot")
            #expect(code == 202)
            let job = try await Self.waitUntilFinal(farm, try Self.decode(body).id)
            #expect(job.state == .failed)
            #expect(job.rounds.map(\.stage) == ["scene discovery", "script"])
            #expect(job.rounds[1].error == "the answer held no Python code block")
            #expect(job.tokens == 1_500 + 2_040)
            #expect(abs(job.costUSD - 0.66) < 1e-9, "$0.12 + $0.30 + $0.20 + $0.04: \(job.costUSD)")
            #expect(fake.requests.count == 2 && fake.requests[1].lastText.contains("syntax error at line 4"))

            // The team's day counted both calls: past either budget, the next prompt is refused until midnight UTC.
            let team: [TeamInfo] = try await farm.get("/v1/teams")
            let physics = try #require(team.first { $0.name == "physics" })
            var quotas = physics.quotas
            quotas.generationDollarsPerDay = 0.5
            _ = try await farm.send("PATCH", "/v1/teams/\(physics.id)", body: JSONEncoder().encode(UpdateTeamRequest(quotas: quotas)))
            let (dollarsCode, dollars) = try await generate("a square")
            #expect(dollarsCode == 429 && String(decoding: dollars, as: UTF8.self).contains("spent $0.66 of its $0.50"),
                    "\(String(decoding: dollars, as: UTF8.self))")
            quotas.generationDollarsPerDay = 100
            quotas.generationTokensPerDay = 3_000
            _ = try await farm.send("PATCH", "/v1/teams/\(physics.id)", body: JSONEncoder().encode(UpdateTeamRequest(quotas: quotas)))
            let (tokensCode, tokens) = try await generate("a square")
            #expect(tokensCode == 429 && String(decoding: tokens, as: UTF8.self).contains("used 3540 of its 3000"),
                    "\(String(decoding: tokens, as: UTF8.self))")
            #expect(fake.requests.count == 2, "refused before any call")
        }
    }

    @Test func cancellingAJobCancelsTheCheckItWaitsFor() async throws {
        let fake = FakeGemini()
        // construct() that never ends: the planning pass holds the check until it is cancelled.
        fake.answer(FakeGemini.script("import time\nfrom manim import *\n\nclass Waits(Scene):\n    def construct(self):\n        time.sleep(600)\n"))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint)
            let job = try await Self.generate(farm, GenerationRequest(prompt: "A dot.", quality: .low))
            let deadline = ContinuousClock.now + .seconds(60)
            var check: VideoSummary?
            while check == nil, ContinuousClock.now < deadline {
                let page: VideoPage = try await farm.get("/v1/videos")
                check = page.videos.first { $0.scriptName == "\(job.id)-round1-check.py" && $0.state == .rendering }
                if check == nil { try await Task.sleep(for: .milliseconds(100)) }
            }
            let running = try #require(check, "the check's planning pass runs")

            let cancel = try farm.cli(["generation", job.id, "--cancel", "--coordinator", farm.http.absoluteString])
            #expect(cancel.status == 0 && cancel.stdout.contains("cancelled, gemini/gemini-test"), "\(cancel.stdout) \(cancel.stderr)")
            #expect(try await farm.waitUntilFinal(running.id, timeout: .seconds(30)).state == .cancelled, "the check went with it")
            let ended: GenerationRecord = try await farm.get("/v1/generations/\(job.id)")
            #expect(ended.state == .cancelled && ended.error == "cancelled by admin" && ended.videoID == nil)
            // Cancelling again answers the job as it is.
            let (again, body) = try await farm.send("DELETE", "/v1/generations/\(job.id)")
            #expect(again == 200)
            #expect(try Self.decode(body).state == .cancelled)
            #expect(fake.requests.count == 1)
        }
    }

    @Test func aModelThatNeverAnswersFailsTheJobSayingSo() async throws {
        let fake = FakeGemini(fallback: .slow(.seconds(30), .text("late")))
        try await fake.serve { endpoint in
            let farm = try await Self.farm(fake, endpoint: endpoint, extra: ["--gemini-timeout", "1", "--gemini-attempts", "2"])
            let job = try await Self.waitUntilFinal(farm, try await Self.generate(farm, GenerationRequest(prompt: "A dot.", quality: .low)).id)
            #expect(job.state == .failed)
            #expect(job.error == "the model did not answer within 1 s (2 attempts)")
            #expect(job.rounds.count == 1 && job.rounds[0].stage == "model")
        }
    }
}
