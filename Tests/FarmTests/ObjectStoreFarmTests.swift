import Crypto
import FarmModel
import FarmProtocol
import Foundation
import ObjectStorage
import ZeroMQ
import Testing

/// A whole farm publishing to an object store (moto's S3 behind a proxy that
/// throttles every seventh request): agents upload their segments directly,
/// the coordinator copies them into place inside the store and writes playlists
/// that grow while the video renders.
@Suite(.serialized) struct ObjectStoreFarmTests {
    static let script = "from manim import *\n\n" + (1...3).map { index in
        """
        class Part\(index)(Scene):
            def construct(self):
                square = Square().shift(LEFT * \(index))
                self.play(Create(square), run_time=\(index == 3 ? 4 : 2))
                self.play(square.animate.shift(RIGHT * 2), run_time=1)

        """
    }.joined()

    /// The coordinator's options for publishing to `bucketAndPrefix` in moto's S3 at `endpoint`.
    static func storage(_ bucketAndPrefix: String, at endpoint: String) -> [String] {
        ["--storage", "s3://\(bucketAndPrefix)", "--s3-endpoint", endpoint, "--s3-path-style"]
    }

    /// Follows a media playlist as a player would: fetches it again and again,
    /// downloads each segment once, the first time it is listed, until `ENDLIST`.
    /// Returns the bytes played (init + segments) and whether the playlist was
    /// ever seen growing (listed segments, no `ENDLIST`).
    static func follow(_ client: S3Client, playlist key: String, deadline: ContinuousClock.Instant,
                       failed: () async -> String?) async throws -> (bytes: Data, sawGrowing: Bool, segments: Int)
    {
        let folder = String(key.dropLast("index.m3u8".count))
        var played = Data()
        var fetched: [String] = []
        var sawGrowing = false
        while ContinuousClock.now < deadline {
            guard let text = try? String(decoding: await client.get(key), as: UTF8.self) else {
                if let failure = await failed() { throw HarnessError("the video failed: \(failure)") }
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            let lines = text.split(separator: "\n").map(String.init)
            #expect(lines.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "the same URI is an EVENT playlist throughout")
            let uris = lines.filter { !$0.hasPrefix("#") && !$0.isEmpty }
            #expect(Array(uris.prefix(fetched.count)) == fetched, "a growing playlist only grows at its end")
            if played.isEmpty, !uris.isEmpty { played = try await client.get(folder + "init.mp4") }
            for uri in uris.dropFirst(fetched.count) {
                played.append(try await client.get(folder + uri))  // listed means there and complete
                fetched.append(uri)
            }
            if lines.contains("#EXT-X-ENDLIST") { return (played, sawGrowing, fetched.count) }
            if !uris.isEmpty { sawGrowing = true }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw HarnessError("the playlist \(key) never ended")
    }

    /// Downloads a published video from the store and checks its ladder and MP4 hold `total` frames on one
    /// continuous timeline, with playlists that have ended and BANDWIDTH at the RFC 8216 peak. Returns the master.
    static func checkPublished(_ client: S3Client, prefix: String, total: Int, into directory: URL) async throws -> String {
        let local = directory.appendingPathComponent("published-\(UUID().uuidString.prefix(6))")
        for object in try await client.list(prefix: prefix) {
            let file = local.appendingPathComponent(String(object.key.dropFirst(prefix.count)))
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try await client.get(object.key).write(to: file)
        }
        let master = try String(contentsOf: local.appendingPathComponent("master.m3u8"), encoding: .utf8)
        let check = try PlaylistCheck(master: master, folder: local)
        #expect(check.variants.map(\.resolution) == ["854x480", "640x360", "428x240"])
        for variant in check.variants {
            let path = local.appendingPathComponent(variant.uri).path
            #expect(try String(contentsOfFile: path, encoding: .utf8).contains("#EXT-X-ENDLIST"))
            #expect(try FFprobe.decodeErrors(path).isEmpty)
            let times = try FFprobe.frameTimes(path)
            #expect(times.count == total, "\(variant.uri): \(times.count) frames of \(total)")
            #expect(times.enumerated().allSatisfy { abs($1 - Double($0) / 15) < 0.0001 }, "continuous timestamps in \(variant.uri)")
            let peak = try check.rfcPeakBandwidth(variant)
            #expect(Double(variant.bandwidth) >= peak && Double(variant.bandwidth) <= peak + 1)
        }
        #expect(try FFprobe.frameCount(local.appendingPathComponent("video.mp4").path) == total)
        return master
    }

    @Test func aVideoPlaysWhileItRendersAndItsMediaNeverPassesThroughTheCoordinator() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-out")
        let endpoint = try await moto.flakyEndpoint(everyNth: 7)
        let farm = try await FarmHarness(agents: [[], []],
            coordinatorArguments: Self.storage("farm-out/renders", at: endpoint),
            environment: ObjectStorageTests.MotoS3.environment)
        let client = moto.client()
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.script, scriptName: "parts.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id
        let prefix = "renders/\(id)/"

        // A player starts as soon as the first segment is listed and follows the playlist to its end.
        let followed = try await Self.follow(client, playlist: prefix + "480p/index.m3u8", deadline: .now + .seconds(240)) {
            guard let status: VideoStatus = try? await farm.get("/v1/videos/\(id)"), status.state.isFinal, status.state != .done else {
                return nil
            }
            return "\(status.error ?? "") \(status.scenes.map { $0.error?.message ?? "" })"
        }
        let status = try await farm.waitUntilFinal(id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { $0.error?.message ?? "" })")
        #expect(followed.sawGrowing, "the playlist was watchable before the video was done")
        #expect(status.playableSeconds == status.seconds)
        let total = try #require(status.frames)

        // Every frame exactly once, on one continuous timeline, for the player that started early.
        let playedFile = farm.directory.appendingPathComponent("played.mp4")
        try followed.bytes.write(to: playedFile)
        let times = try FFprobe.frameTimes(playedFile.path)
        #expect(times.count == total, "the early player got \(times.count) frames of \(total)")
        let gaps = times.enumerated().filter { abs($1 - Double($0) / 15) > 0.0001 }
        #expect(gaps.isEmpty, "timestamps continue across tasks: \(gaps.prefix(3))")

        // The finished ladder, read back from the store: complete playlists, BANDWIDTH as RFC 8216 says.
        let master = try await Self.checkPublished(client, prefix: prefix, total: total, into: farm.directory)
        #expect(try await client.list(prefix: "staging/\(id)/").contains { $0.key.hasSuffix("/r0-0.m4s") },
                "attempts upload under the staging prefix, which no playlist references")

        // Media bytes: agents put every segment in the store; none passed through the coordinator.
        let traffic = try #require(try await farm.stats().objectStore)
        #expect(traffic.agentBytes > 0)
        #expect(traffic.coordinatorBytes * 100 <= traffic.agentBytes, "\(traffic)")
        #expect(traffic.mp4Bytes == 0, "the agents built video.mp4 in the store: \(traffic)")

        // The API sends a reader to the store (a URL signed for an hour, as no CDN is configured).
        let outputs = try #require(status.outputs)
        #expect(outputs.master == "/v1/videos/\(id)/master.m3u8")
        var served: (status: Int, body: Data) = (0, Data())
        for _ in 0..<3 where served.status != 200 {  // the proxy throttles the redirected request now and then
            served = try await farm.send("GET", outputs.master)
        }
        #expect(served.status == 200 && String(decoding: served.body, as: UTF8.self) == master)
    }

    /// The production layout: PostgreSQL and the object store shared, each coordinator with its own
    /// data folder (another host). The leader dies mid-video; the standby finishes it from what the
    /// store holds, without rendering again any task accepted before.
    @Test func aStandbyWithItsOwnDataFolderFinishesAVideoWithoutRenderingAcceptedWorkAgain() async throws {
        let database = try await TestPostgres.freshDatabase()
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-ha")
        let endpoint = try await moto.flakyEndpoint(everyNth: 11)
        let farm = try await FarmHarness(agents: [[], []],
            coordinatorArguments: ["--database", database] + Self.storage("farm-ha/published", at: endpoint),
            standby: true, standbyOwnFolder: true,
            environment: ObjectStorageTests.MotoS3.environment)
        // A longer last scene: at -ql the renders are quick, and the leader must die while one still runs.
        let script = Self.script.replacingOccurrences(of: "run_time=4", with: "run_time=12")
        let (code, body) = try await farm.submit(SubmitRequest(script: script, scriptName: "parts.py", quality: .low))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id

        // Kill the leader once some task is accepted (durably: in PostgreSQL, not only in the leader's memory)
        // and another still renders.
        var before = try await farm.waitFor(id) { status in
            status.scenes.contains { $0.state == .done } && status.scenes.contains { $0.state == .running && $0.framesDone >= 5 }
        }
        let durable = ContinuousClock.now + .seconds(10)
        var stored: Set<String> = []
        while ContinuousClock.now < durable {
            let query = "SELECT scene FROM tasks WHERE video_id = '\(id)' AND state = 'done' AND ordinal >= 0"
            stored = Set(try run("psql", [database, "-tAc", query]).stdout.split(separator: "\n").map(String.init))
            if before.scenes.filter({ $0.state == .done }).allSatisfy({ stored.contains($0.name) }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        before.scenes = before.scenes.filter { stored.contains($0.name) || $0.state != .done }
        try #require(before.scenes.contains { $0.state == .done }, "no accepted task reached PostgreSQL")
        farm.killCoordinator()
        try await farm.awaitStandbyTakeover()
        let status = try await farm.waitUntilFinal(id)
        try #require(status.state == .done, "\(status.error ?? "") \(status.scenes.map { $0.error?.message ?? "" })")
        for scene in before.scenes where scene.state == .done {
            let after = try #require(status.scenes.first { $0.name == scene.name })
            #expect(after.attempt == scene.attempt, "\(scene.name) was accepted before the takeover and not rendered again")
        }
        // The standby's own folder never held the accepted tasks' files: everything came from the store.
        let total = try #require(status.frames)
        _ = try await Self.checkPublished(moto.client(), prefix: "published/\(id)/", total: total, into: farm.directory)
    }

    /// A forged agent lies about what it put in the store: a file it never uploaded (or one deleted behind
    /// the farm's back), a truncated upload announced whole, and a late upload through the URL of an attempt
    /// already superseded. Each lie fails only its attempt; no playlist ever lists an object that is not
    /// there and complete; the honest agent's render is what plays.
    @Test func liesAboutStoredFilesFailTheirAttemptAndNeverReachAPlaylist() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-lies")
        let farm = try await FarmHarness(agents: [], leaseSeconds: 2,
            coordinatorArguments: Self.storage("farm-lies/published", at: moto.endpoint) + ["--max-attempts", "5"],
            environment: ObjectStorageTests.MotoS3.environment)
        let client = moto.client()
        let context = try ZMQContext()
        let forger = try HostilePeerTests.ForgedAgent(farm, context: context, id: "forger")
        try await farm.waitForAgents(1)
        let id = try await HostilePeerTests.submit(farm)

        // The assignment places the task at the start of the timeline and signs URLs for this attempt only.
        let first = try await forger.nextAssign()
        let placement = try #require(first.output)
        #expect(placement.firstFrame == 0)
        let initURL = try #require(placement.uploads["r0-init.mp4"].flatMap(URL.init(string:)))
        #expect(initURL.path.hasSuffix("/staging/\(id)/\(first.ref.taskID)/a\(first.ref.attempt)/r0-init.mp4"))
        let segmentURL = try #require(placement.uploads["r0-0.m4s"].flatMap(URL.init(string:)))
        #expect(placement.uploads.count == 3 * (1 + 8), "unplanned (not split): an init and eight segments per rung")

        func result(_ ref: AttemptRef, storedMD5: String, size: Int) -> TaskResult {
            let rendition = RenditionOutput(width: 854, height: 480, codecs: "avc1.64001e", initSize: 800, initCRC32: 0,
                                            segments: [SegmentInfo(index: 0, frames: 15, size: size, crc32: 0)])
            var result = TaskResult(ref: ref, frames: 15, sourceWidth: 854, sourceHeight: 480, frameRate: 15, timescale: 15_360,
                                    renditions: [rendition, rendition, rendition], renderSeconds: 1)
            result.placedAt = 0
            result.stored = [StoredFile(name: "r0-0.m4s", md5: storedMD5)]
            return result
        }
        // 1. A stored file that is not in the store: refused, one retry spent.
        forger.send(.result(result(first.ref, storedMD5: String(repeating: "a", count: 32), size: 1_000)))
        _ = try await farm.waitFor(id) { ($0.scenes.first?.retriesSpent ?? 0) >= 1 }

        // 2. A truncated upload announced whole: refused by its size.
        let second = try await forger.nextAssign()
        let secondURL = try #require(second.output?.uploads["r0-0.m4s"].flatMap(URL.init(string:)))
        let whole = Data(repeating: 7, count: 1_000)
        _ = try await ObjectStorageTests.put(Data(whole.prefix(600)), to: secondURL, md5: Data(Insecure.MD5.hash(data: Data(whole.prefix(600)))))
        forger.send(.result(result(second.ref, storedMD5: SignatureV4.hex(Insecure.MD5.hash(data: whole)), size: whole.count)))
        let refused = try await farm.waitFor(id) { ($0.scenes.first?.retriesSpent ?? 0) >= 2 }
        #expect(refused.scenes.first?.error?.message.contains("bytes in the object store") == true, "\(refused.scenes)")

        // 3. The forger leaves; an honest agent renders. Meanwhile the first attempt's URL is used late.
        forger.close()
        try farm.startAgent(index: 0)
        let evil = Data("EVIL".utf8)
        _ = try await ObjectStorageTests.put(evil, to: segmentURL, md5: Data(Insecure.MD5.hash(data: evil)))
        _ = try await ObjectStorageTests.put(evil, to: initURL, md5: Data(Insecure.MD5.hash(data: evil)))
        let status = try await farm.waitUntilFinal(id)
        try #require(status.state == .done, "\(status.error ?? "")")
        #expect(status.scenes.first?.agent == "agent-0")
        _ = try await Self.checkPublished(client, prefix: "published/\(id)/", total: try #require(status.frames), into: farm.directory)
        for object in try await client.list(prefix: "published/\(id)/") {
            #expect(try await client.get(object.key) != evil, "\(object.key) came from a superseded attempt")
        }
    }

    /// A video cancelled while its playlists grow leaves nothing published behind: a playlist that never
    /// ends must not stay in the store.
    @Test func aCancelledVideosPartlyPublishedOutputsAreDeleted() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-cancel")
        let farm = try await FarmHarness(agents: [[]],
            coordinatorArguments: Self.storage("farm-cancel/published", at: moto.endpoint),
            environment: ObjectStorageTests.MotoS3.environment)
        let client = moto.client()
        let (code, body) = try await farm.submit(SubmitRequest(script: Self.script, scriptName: "parts.py", quality: .low))
        try #require(code == 201)
        let id = try farm.decodeStatus(body).id
        let playing = try await farm.waitFor(id) { ($0.playableSeconds ?? 0) > 0 && $0.state == .rendering }
        #expect(playing.outputs?.master == "/v1/videos/\(id)/master.m3u8", "outputs are there while it renders")
        #expect(try await !client.list(prefix: "published/\(id)/").isEmpty)
        let (cancelled, _) = try await farm.send("DELETE", "/v1/videos/\(id)")
        #expect(cancelled == 200)
        let deadline = ContinuousClock.now + .seconds(30)
        var left = try await client.list(prefix: "published/\(id)/")
        while !left.isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            left = try await client.list(prefix: "published/\(id)/")
        }
        #expect(left.isEmpty, "\(left.map(\.key))")
    }

    /// The store cannot be reached at all: agents fall back to sending their files to the coordinator,
    /// which cannot store them either; each attempt fails with that reason and the video fails after its
    /// attempts, saying why, instead of rendering again for ever. The coordinator keeps serving.
    @Test func anUnreachableStoreFailsTheVideoWithThatReason() async throws {
        let nowhere = "http://127.0.0.1:\(try FarmHarness.freePort())"
        let farm = try await FarmHarness(agents: [[]],
            coordinatorArguments: Self.storage("farm-gone/published", at: nowhere) + ["--max-attempts", "2"],
            environment: ObjectStorageTests.MotoS3.environment)
        let id = try await HostilePeerTests.submit(farm)
        let status = try await farm.waitUntilFinal(id)
        #expect(status.state == .failed)
        let error = try #require(status.scenes.first?.error)
        #expect(error.message.contains("the object store could not take its files"), "\(error.message)")
        #expect(farm.coordinator.isRunning)
        let (health, _) = try await farm.send("GET", "/healthz")
        #expect(health == 200)
    }

    /// The render cache with an object store: an accepted render is kept in the store (copied inside it), and
    /// a later video with the same scenes takes it from there instead of rendering, placing it on its own timeline.
    @Test func aRepeatedVideoComesFromTheRenderCacheKeptInTheStore() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-cache")
        let farm = try await FarmHarness(agents: [[]],
            coordinatorArguments: Self.storage("farm-cache/published", at: moto.endpoint),
            environment: ObjectStorageTests.MotoS3.environment)
        let client = moto.client()
        var ids: [String] = []
        for name in ["first.py", "again.py"] {
            let (code, body) = try await farm.submit(SubmitRequest(script: Self.script, scriptName: name, quality: .low))
            try #require(code == 201)
            let id = try farm.decodeStatus(body).id
            let status = try await farm.waitUntilFinal(id)
            try #require(status.state == .done, "\(status.error ?? "")")
            ids.append(id)
        }
        let again = try await farm.waitUntilFinal(ids[1])
        #expect(again.scenes.allSatisfy { $0.note == "from the render cache" }, "\(again.scenes.map { $0.note ?? "rendered" })")
        #expect(try await !client.list(prefix: "cache/").isEmpty)
        _ = try await Self.checkPublished(client, prefix: "published/\(ids[1])/", total: try #require(again.frames), into: farm.directory)
    }
}
