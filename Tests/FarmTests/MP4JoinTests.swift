import Crypto
import FarmModel
import FarmProtocol
import Foundation
import ObjectStorage
import Packaging
import Testing
import ZeroMQ

/// `video.mp4` in object-store mode is built in the store by the agents that rendered the
/// video (`JoinPart`): none of its bytes pass through the coordinator. An agent that builds
/// a part wrong, or claims one it never stored, gets the part built by the coordinator; the
/// MP4 that plays is the one an honest farm makes, byte for byte.
@Suite(.serialized) struct MP4JoinTests {
    @Test func theMP4IsBuiltByAgentsAndAWrongPartIsBuiltAgainByTheCoordinator() async throws {
        let moto = try await ObjectStorageTests.MotoS3(bucket: "farm-joins")
        let farm = try await FarmHarness(agents: [[]],
            coordinatorArguments: ObjectStoreFarmTests.storage("farm-joins/published", at: moto.endpoint)
                + ["--max-attempts", "5"],
            environment: ObjectStorageTests.MotoS3.environment)
        let client = moto.client()

        // 1. An honest farm: the agent that rendered the video builds its MP4; the coordinator moves none of it.
        let honest = try await HostilePeerTests.submit(farm)
        let honestStatus = try await farm.waitUntilFinal(honest)
        try #require(honestStatus.state == .done, "\(honestStatus.error ?? "")")
        let total = try #require(honestStatus.frames)
        _ = try await ObjectStoreFarmTests.checkPublished(client, prefix: "published/\(honest)/", total: total, into: farm.directory)
        let honestTraffic = try #require(try await farm.stats().objectStore)
        #expect(honestTraffic.mp4Bytes == 0, "\(honestTraffic)")
        let honestMP4 = try await client.get("published/\(honest)/video.mp4")

        // The honest attempt's files, which a forged agent will claim as its own render.
        var files: [String: Data] = [:]
        for object in try await client.list(prefix: "staging/\(honest)/") {
            files[String(object.key.split(separator: "/").last!)] = try await client.get(object.key)
        }
        try #require(files["r0-init.mp4"] != nil && files["r0-0.m4s"] != nil, "\(files.keys.sorted())")

        // 2. The honest agent leaves; a forged agent that builds parts renders the next videos and lies about their parts.
        farm.signalAgent(0, SIGTERM)
        let context = try ZMQContext()
        let forger = try HostilePeerTests.ForgedAgent(farm, context: context, id: "forger", joinsParts: true)
        defer { forger.close() }
        enum Lie: CaseIterable { case wrongSize, nothingStored }
        for lie in Lie.allCases {
            let (code, body) = try await farm.submit(SubmitRequest(
                script: HostilePeerTests.oneScene, scriptName: "\(lie).py", quality: .low, split: false, cache: false))
            try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
            let id = try farm.decodeStatus(body).id
            let assign = try await forger.nextAssign(timeout: .seconds(60))
            let uploads = try #require(assign.output?.uploads)
            var stored: [StoredFile] = []
            for (name, data) in files {
                let url = try #require(uploads[name].flatMap(URL.init(string:)), "no URL for \(name)")
                let md5 = Data(Insecure.MD5.hash(data: data))
                #expect(try await ObjectStorageTests.put(data, to: url, md5: md5) == 200)
                stored.append(StoredFile(name: name, md5: SignatureV4.hex(md5)))
            }
            var result = try Self.result(assign.ref, files: files)
            result.placedAt = 0
            result.stored = stored
            forger.send(.result(result))

            // The forger is asked for the MP4's part, as the video's only renderer.
            let join = try await forger.next(timeout: .seconds(60), "join") { if case .join(let join) = $0 { join } else { nil } }
            #expect(join.videoID == id)
            #expect(join.size == honestMP4.count, "one part: the whole small MP4")
            switch lie {
            case .wrongSize:
                let garbage = Data(repeating: 0x55, count: join.size - 100)
                let md5 = Data(Insecure.MD5.hash(data: garbage))
                #expect(try await ObjectStorageTests.put(garbage, to: try #require(URL(string: join.target)), md5: md5) == 200)
                forger.send(.joined(JoinedPart(id: join.id, size: join.size, md5: SignatureV4.hex(md5))))
            case .nothingStored:
                forger.send(.joined(JoinedPart(id: join.id, size: join.size, md5: String(repeating: "ab", count: 16))))
            }
            let status = try await farm.waitUntilFinal(id)
            try #require(status.state == .done, "\(status.error ?? "")")
            #expect(status.scenes.first?.agent == "forger")
            _ = try await ObjectStoreFarmTests.checkPublished(client, prefix: "published/\(id)/", total: total, into: farm.directory)
            #expect(try await client.get("published/\(id)/video.mp4") == honestMP4, "the coordinator built the part the forger lied about")
        }
        let traffic = try #require(try await farm.stats().objectStore)
        #expect(traffic.mp4Bytes == 2 * honestMP4.count, "each lied-about part was read back once: \(traffic)")
    }

    /// A task result describing `files` (an attempt's init and media segments, by their attempt names).
    static func result(_ ref: AttemptRef, files: [String: Data]) throws -> TaskResult {
        var renditions: [RenditionOutput] = []
        var timescale = 0
        for rung in 0... {
            guard let initSegment = files["r\(rung)-init.mp4"] else { break }
            let header = try SegmentInspector.initSegment(initSegment)
            timescale = header.timescale
            var segments: [SegmentInfo] = []
            for index in 0... {
                guard let segment = files["r\(rung)-\(index).m4s"] else { break }
                segments.append(SegmentInfo(index: index, frames: try SegmentInspector.sampleCount(ofFragment: segment),
                                            size: segment.count, crc32: Checksum.crc32(segment)))
            }
            renditions.append(RenditionOutput(width: header.width, height: header.height, codecs: header.codecs,
                                              initSize: initSegment.count, initCRC32: Checksum.crc32(initSegment), segments: segments))
        }
        let frames = renditions.first?.segments.reduce(0) { $0 + $1.frames } ?? 0
        return TaskResult(ref: ref, frames: frames, sourceWidth: 854, sourceHeight: 480, frameRate: 15, timescale: timescale,
                          renditions: renditions, renderSeconds: 1)
    }
}
