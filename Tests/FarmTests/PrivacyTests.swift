@testable import Coordinator
import FarmModel
import FarmProtocol
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// A user's data: exported whole, erased without a trace, expired by the team's retention policy.
@Suite struct PrivacyTests {
    /// The files under `folder` (recursively) that contain `marker`.
    static func files(under folder: URL, containing marker: String) -> [String] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var found: [String] = []
        for case let file as URL in walker where (try? file.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            if let data = try? Data(contentsOf: file), data.range(of: Data(marker.utf8)) != nil { found.append(file.path) }
        }
        return found
    }

    /// The files of a ustar archive, by name.
    static func untar(_ data: Data) -> [String: Data] {
        var files: [String: Data] = [:]
        var offset = 0
        let bytes = [UInt8](data)
        while offset + 512 <= bytes.count, bytes[offset] != 0 {
            let header = bytes[offset..<offset + 512]
            let name = String(decoding: header.prefix(100).prefix { $0 != 0 }, as: UTF8.self)
            let size = Int(String(decoding: header.dropFirst(124).prefix(11), as: UTF8.self), radix: 8) ?? 0
            files[name] = Data(bytes[(offset + 512)..<(offset + 512 + size)])
            offset += 512 + (size + 511) / 512 * 512
        }
        return files
    }

    @Test func anErasedUsersScriptsLeaveNoByteInTheStoreTheDataFolderOrTheCache() async throws {
        let farm = try await FarmHarness(agents: [[]])
        let marker = "ERASE-ME-\(UUID().uuidString)"
        let (_, userBody) = try await farm.send("POST", "/v1/users", body: JSONEncoder().encode(
            CreateUserRequest(name: "ann", team: "physics", role: .creator)))
        let ann = try JSONDecoder.farm.decode(UserInfo.self, from: userBody)
        let (_, keyBody) = try await farm.send("POST", "/v1/users/\(ann.id)/keys", body: JSONEncoder().encode(CreateKeyRequest()))
        let key = try JSONDecoder.farm.decode(CreatedKey.self, from: keyBody).key

        let good = "from manim import *\n# \(marker)\nclass Mark(Scene):\n    def construct(self):\n        self.play(FadeIn(Square()), run_time=0.5)\n"
        let bad = "from manim import *\nclass Boom(Scene):\n    def construct(self):\n        self.play(FadeIn(Dot()), run_time=0.2)\n        raise ValueError(\"\(marker)\")\n"
        var ids: [String] = []
        for script in [good, bad] {
            let (code, body) = try await farm.send("POST", "/v1/videos", body: JSONEncoder().encode(
                SubmitRequest(script: script, scriptName: "\(marker).py", quality: .low, ladder: [240])), apiKey: key)
            #expect(code == 201)
            ids.append(try farm.decodeStatus(body).id)
        }
        #expect(try await farm.waitUntilFinal(ids[0]).state == .done)
        let failed = try await farm.waitUntilFinal(ids[1])
        #expect(failed.scenes.first?.error?.logTail.contains(marker) == true, "the log tail holds the marker too")
        let data = farm.directory.appendingPathComponent("coordinator")
        #expect(!Self.files(under: data, containing: marker).isEmpty, "before erasure the store holds the scripts")

        // The export has everything: the account, both scripts, the videos with their logs.
        let (exportCode, archive) = try await farm.send("GET", "/v1/users/\(ann.id)/export", apiKey: key)
        #expect(exportCode == 200)
        let files = Self.untar(archive)
        #expect(files.keys.contains("manimfarm-export/account.json"))
        let scripts = files.filter { $0.key.hasPrefix("manimfarm-export/scripts/") }.values.map { String(decoding: $0, as: UTF8.self) }
        #expect(Set(scripts) == [good, bad])
        let videos = String(decoding: try #require(files["manimfarm-export/videos.json"]), as: UTF8.self)
        #expect(ids.allSatisfy(videos.contains) && videos.contains("master.m3u8"))

        // Erased on the user's own request: nothing of the scripts is left, and the key is dead.
        let (eraseCode, reportBody) = try await farm.send("DELETE", "/v1/users/\(ann.id)", apiKey: key)
        #expect(eraseCode == 200)
        let report = try JSONDecoder.farm.decode(ErasureReport.self, from: reportBody)
        #expect(report.videos == 2 && report.outputsDeleted == 1 && report.keysRevoked == 1)
        #expect(report.cacheEntriesDeleted >= 1, "the render (and plan) cached from the script went")
        #expect(Self.files(under: data, containing: marker) == [], "no byte of the script in the store, the data folder or the cache")
        #expect(Self.files(under: farm.directory, containing: marker) == [], "nor in the processes' logs or the agent's scratch space")
        #expect(try await farm.send("GET", "/v1/me", apiKey: key).status == 401)
        // What accounting needs stays, anonymous; erasing again is harmless.
        let kept: VideoStatus = try await farm.get("/v1/videos/\(ids[0])")
        #expect(kept.state == .done && kept.frames != nil && kept.scriptName == "erased.py" && kept.submitter == "erased")
        let (againCode, againBody) = try await farm.send("DELETE", "/v1/users/\(ann.id)")
        #expect(againCode == 200)
        #expect(try JSONDecoder.farm.decode(ErasureReport.self, from: againBody).keysRevoked == 0)
        #expect(Self.files(under: data, containing: marker) == [])
    }

    @Test(arguments: StoreKind.allCases) func anonymisingAVideoLeavesOnlyWhatAccountingNeeds(_ kind: StoreKind) async throws {
        let store = try #require(try await kind.make() as? any CoordinatorStore)
        let marker = "SECRET-\(UUID().uuidString)"
        var video = VideoRecord(id: "v1", state: .failed, scriptName: "\(marker).py", script: "# \(marker)", settings: RenderSettings(),
                                encoding: EncodingPlan(renditions: []), idempotencyKey: "t/\(marker)", createdAt: Date())
        video.options = VideoOptions(submitter: "ann", scenes: [SceneSpec(name: "Proof", requiresLaTeX: false)])
        video.userID = "u1"
        video.teamID = "t1"
        var task = TaskRecord(id: "v1-0", videoID: "v1", ordinal: 0, scene: "Proof", requiresLaTeX: false, createdAt: Date())
        _ = try await store.insert(video, tasks: [task])
        task.state = .failed
        task.error = TaskError(failureClass: .scriptError, message: marker, logTail: marker)
        task.work.note = "planning failed: \(marker)"
        var attempt = AttemptRecord(taskID: task.id, attempt: 1, agentID: "a", startedAt: Date())
        attempt.logTail = marker
        try await store.apply([.attempt(task, attempt)])
        video.error = marker
        try await store.update(video)

        var options = video.options
        options.submitter = "erased"
        options.scenes = [SceneSpec(name: "erased-0", requiresLaTeX: false)]
        try await store.anonymise(videoID: "v1", options: options)
        try await store.compact()
        let stored = try #require(try await store.video(id: "v1"))
        #expect(stored.script.isEmpty && stored.scriptName == "erased.py" && stored.idempotencyKey == nil && stored.error == "erased")
        #expect(stored.options.scenes.map(\.name) == ["erased-0"] && stored.state == .failed && stored.userID == "u1")
        let tasks = try await store.tasks(videoID: "v1")
        #expect(tasks.map(\.scene) == ["erased-0"] && tasks.allSatisfy { $0.error == nil && $0.work.note == nil })
        #expect(try await store.attempts(taskID: "v1-0").allSatisfy { $0.logTail == nil })
        #expect(try await store.videos(userID: "u1").map(\.id) == ["v1"])
    }

    @Test func retentionListsThenDeletesOldOutputsAndLogs() async throws {
        try await APIFixture.with { client, farm in
            let team = try await farm.accounts.createTeam(CreateTeamRequest(name: "physics"))
            var old = VideoRecord(id: "vold", state: .done, scriptName: "old.py", script: "x", settings: RenderSettings(),
                                  encoding: EncodingPlan(renditions: []), idempotencyKey: nil, createdAt: Date(timeIntervalSinceNow: -9 * 86_400))
            old.teamID = team.id
            var recent = old
            recent.id = "vnew"
            recent.createdAt = Date()
            for var video in [old, recent] {
                video.updatedAt = video.createdAt
                _ = try await farm.store.insert(video, tasks: [])
                let folder = farm.api.publishedDirectory.appendingPathComponent(video.id)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                try Data(count: 1_000).write(to: folder.appendingPathComponent("video.mp4"))
            }
            let off = try await client.call(.post, "/v1/teams/\(team.id)/expire", key: farm.adminKey, body: ExpireRequest(dryRun: true))
            #expect(try off.decode(RetentionReport.self).videos.isEmpty, "no policy, nothing expires")
            #expect(try await client.call(.patch, "/v1/teams/\(team.id)", key: farm.adminKey, body: UpdateTeamRequest(retentionDays: 7)).status == .ok)

            let dry = try await client.call(.post, "/v1/teams/\(team.id)/expire", key: farm.adminKey, body: ExpireRequest(dryRun: true))
                .decode(RetentionReport.self)
            #expect(dry.videos.map(\.id) == ["vold"] && dry.videos.first?.outputBytes == 1_000 && dry.dryRun)
            let oldFolder = farm.api.publishedDirectory.appendingPathComponent("vold")
            #expect(FileManager.default.fileExists(atPath: oldFolder.path), "a dry run deletes nothing")

            let real = try await client.call(.post, "/v1/teams/\(team.id)/expire", key: farm.adminKey, body: ExpireRequest(dryRun: false))
                .decode(RetentionReport.self)
            #expect(real.videos.map(\.id) == ["vold"])
            #expect(!FileManager.default.fileExists(atPath: oldFolder.path))
            #expect(FileManager.default.fileExists(atPath: farm.api.publishedDirectory.appendingPathComponent("vnew").path))
            #expect(try await farm.store.video(id: "vold")?.expiredAt != nil)
            let again = try await client.call(.post, "/v1/teams/\(team.id)/expire", key: farm.adminKey, body: ExpireRequest(dryRun: true))
            #expect(try again.decode(RetentionReport.self).videos.isEmpty)
        }
    }

    @Test func theLastAdminCannotBeErasedAndAnotherUsersDataIsNotTheCallersToTake() async throws {
        try await APIFixture.with { client, farm in
            let admin = try await client.call(.get, "/v1/me", key: farm.adminKey).decode(UserInfo.self)
            let refused = try await client.call(.delete, "/v1/users/\(admin.id)", key: farm.adminKey)
            #expect(refused.status == .conflict)
            #expect(refused.text.contains("last admin"))
            #expect(try await client.call(.get, "/v1/me", key: farm.adminKey).status == .ok, "nothing was erased")

            let demoting = try await client.call(.patch, "/v1/users/\(admin.id)", key: farm.adminKey, body: UpdateUserRequest(role: .viewer))
            #expect(demoting.status == .conflict, "the last admin keeps its role")
            let (ann, annKey) = try await farm.user("ann", team: "physics", role: .creator)
            // A role change applies from the user's next request.
            #expect(try await client.call(.get, "/v1/agents", key: annKey).status == .forbidden)
            let promoted = try await client.call(.patch, "/v1/users/ann", key: farm.adminKey, body: UpdateUserRequest(role: .operator))
            #expect(try promoted.decode(UserInfo.self).role == .operator)
            #expect(try await client.call(.get, "/v1/agents", key: annKey).status == .ok)
            _ = try await client.call(.patch, "/v1/users/ann", key: farm.adminKey, body: UpdateUserRequest(role: .creator))
            let (_, bobKey) = try await farm.user("bob", team: "physics", role: .operator)
            #expect(try await client.call(.get, "/v1/users/\(ann.id)/export", key: bobKey).status == .notFound)
            #expect(try await client.call(.delete, "/v1/users/\(ann.id)", key: bobKey).status == .notFound)
            #expect(try await client.call(.get, "/v1/me", key: annKey).status == .ok, "ann is untouched")
            let export = try await client.call(.get, "/v1/users/\(ann.id)/export", key: farm.adminKey)
            #expect(export.status == .ok && export.headers[.contentType] == "application/x-tar")
            #expect(Self.untar(Data(buffer: export.body)).keys.contains("manimfarm-export/account.json"))
        }
    }
}
