@testable import Agent
@testable import Coordinator
import FarmProtocol
import Foundation
import FarmModel
import FarmStorage
import Packaging
import Testing
import ZeroMQ

/// Everything that crosses a trust boundary is checked before it is used:
/// forged numbers are errors with a reason, never traps.
@Suite struct BoundaryValidationTests {
    static let ref = AttemptRef(taskID: "v1-0", attempt: 1)

    static func result(frames: Int = 15, renditions: [RenditionOutput]? = nil, seconds: Double = 1) -> TaskResult {
        let rendition = RenditionOutput(width: 854, height: 480, codecs: "avc1.64001e", initSize: 800, initCRC32: 1,
                                        segments: [SegmentInfo(index: 0, frames: frames, size: 1_000, crc32: 2)])
        return TaskResult(ref: ref, frames: frames, sourceWidth: 854, sourceHeight: 480, frameRate: 15, timescale: 15_360,
                          renditions: renditions ?? [rendition], renderSeconds: seconds)
    }

    static func refused(_ message: FarmMessage) -> Bool {
        (try? FarmWire.decode(FarmWire.encode(message))) == nil
    }

    @Test func anHonestResultPassesAndForgedOnesAreRefusedAtDecoding() {
        #expect(!Self.refused(.result(Self.result())))
        var empty = Self.result()
        empty.renditions = []
        #expect(Self.refused(.result(empty)), "frames without renditions")
        var mismatched = Self.result()
        mismatched.frames = 16
        #expect(Self.refused(.result(mismatched)), "segment frames that do not add up")
        var huge = Self.result()
        huge.renditions[0].segments = [SegmentInfo(index: 0, frames: Int.max, size: 1, crc32: 0),
                                       SegmentInfo(index: 1, frames: Int.max, size: 1, crc32: 0)]
        #expect(Self.refused(.result(huge)), "frame counts that would overflow")
        #expect(Self.refused(.result(Self.result(seconds: .nan))))
        #expect(Self.refused(.result(Self.result(seconds: -1))))
        var badRate = Self.result()
        badRate.timescale = 1_000
        #expect(Self.refused(.result(badRate)), "a timescale that is not a multiple of the frame rate")
        var shuffled = Self.result()
        shuffled.renditions[0].segments[0].index = 7
        #expect(Self.refused(.result(shuffled)))
    }

    @Test func forgedPlansChunksAndRegistrationsAreRefused() {
        let animation = PlannedAnimation(seconds: 1, frames: MessageLimits.maxFrames)
        let overflowing = PlanResult(ref: Self.ref, manimVersion: "0.22.0",
                                     scenes: [ScenePlan(scene: "A", animations: [animation, animation])], seconds: 1)
        #expect(Self.refused(.planned(overflowing)), "a scene of more frames than any render")
        let infinite = PlanResult(ref: Self.ref, manimVersion: "0.22.0",
                                  scenes: [ScenePlan(scene: "A", animations: [PlannedAnimation(seconds: .infinity, frames: 1)])],
                                  seconds: 1)
        #expect(Self.refused(.planned(infinite)))
        let chunk = SegmentChunk(ref: Self.ref, file: SegmentID(rendition: 0, segment: 0), offset: Int.max - 2, totalSize: 10, crc32: 0)
        #expect(Self.refused(.chunk(chunk, Data([1, 2, 3]))))
        let overrun = SegmentChunk(ref: Self.ref, file: SegmentID(rendition: 0, segment: 0), offset: 8, totalSize: 10, crc32: 0)
        #expect(Self.refused(.chunk(overrun, Data([1, 2, 3]))))
        #expect(Self.refused(.register(Register(agentID: "a b\n", hostname: "h", slots: 1, cores: 1, memoryBytes: 0,
                                                 manimVersion: "0.22.0", hasLaTeX: false))))
        #expect(Self.refused(.register(Register(agentID: "a", hostname: "h", slots: Int.max, cores: 1, memoryBytes: 0,
                                                 manimVersion: "0.22.0", hasLaTeX: false))))
        #expect(Self.refused(.progress(RenderProgress(ref: AttemptRef(taskID: "t", attempt: -1), framesDone: 0))))
    }

    @Test func assetsInAnAssignmentMustBeSafeAndWhole() {
        func assign(_ assets: [AssetFile]) -> FarmMessage {
            var assign = Assign(ref: Self.ref, videoID: "v1", scriptName: "s.py", script: "x", scene: "A", settings: RenderSettings(),
                                encoding: EncodingPlan(renditions: []), limits: TaskLimits())
            assign.assets = assets
            return .assign(assign)
        }
        let hash = String(repeating: "ab", count: 32)
        #expect(!Self.refused(assign([AssetFile(name: "pictures/logo.png", size: 3, sha256: hash, data: Data([1, 2, 3]))])))
        #expect(!Self.refused(assign([AssetFile(name: "a.wav", size: 3, sha256: hash, url: "https://s3/a.wav?X-Amz-Signature=1")])))
        for name in ["../x", "/etc/passwd", ".bashrc", "a/./b", "a\\b", "a/b/c/d/e"] {
            #expect(Self.refused(assign([AssetFile(name: name, size: 1, sha256: hash, data: Data([1]))])), "\(name)")
        }
        #expect(Self.refused(assign([AssetFile(name: "a", size: 5, sha256: hash, data: Data([1]))])), "bytes not as announced")
        #expect(Self.refused(assign([AssetFile(name: "a", size: 1, sha256: "x", data: Data([1]))])))
        #expect(Self.refused(assign([AssetFile(name: "a", size: 1, sha256: hash)])), "neither bytes nor a URL")
        #expect(Self.refused(assign([AssetFile(name: "a", size: 1, sha256: hash, url: "file:///etc/passwd")])))
        let twice = AssetFile(name: "a", size: 1, sha256: hash, data: Data([1]))
        #expect(Self.refused(assign([twice, twice])))
    }

    @Test func forgedJoinsAndAnswersAreRefused() {
        let source = JoinSource(url: "http://s3/a", size: 1_000)
        func join(_ sources: [JoinSource], target: String = "http://s3/t?partNumber=1") -> FarmMessage {
            .join(JoinPart(id: "j", videoID: "v1", sources: sources, target: target))
        }
        #expect(!Self.refused(join([source])))
        #expect(Self.refused(join([])), "a part of nothing")
        #expect(Self.refused(join([JoinSource(url: "file:///etc/passwd", size: 10)])), "not an http(s) URL")
        #expect(Self.refused(join([source], target: "ftp://s3/t")))
        #expect(Self.refused(join([JoinSource(url: "http://s3/a", size: -1)])))
        #expect(Self.refused(join([JoinSource(url: "http://s3/a", size: Int.max)])), "no overflow: each source is bounded")
        let many = Array(repeating: JoinSource(url: "http://s3/a", size: MessageLimits.maxFileBytes), count: 3)
        #expect(Self.refused(join(many)), "a part above JoinPart.maxPartBytes")
        #expect(Self.refused(.joined(JoinedPart(id: "j", size: 10, md5: "not hex"))))
        #expect(Self.refused(.joined(JoinedPart(id: "j", size: -5, md5: String(repeating: "a", count: 32)))))
        #expect(Self.refused(.joined(JoinedPart(id: "../j", size: 5, md5: String(repeating: "a", count: 32)))))
        #expect(!Self.refused(.joined(JoinedPart(id: "j", size: 0, md5: "", error: "busy"))))
    }

    @Test func forgedMixesAndAnswersAreRefused() {
        let file = AssetFile(name: "a.wav", size: 1, sha256: String(repeating: "ab", count: 32), data: Data([1]))
        func mix(_ scenes: [SceneSoundTrack], cuts: [Int] = [], files: [AssetFile]? = nil) -> FarmMessage {
            .mix(MixAudio(id: "m", videoID: "v1", files: files ?? [file], scenes: scenes, cuts: cuts))
        }
        let scene = SceneSoundTrack(samples: 48_000, sounds: [MixSound(file: 0, seconds: 0)])
        #expect(!Self.refused(mix([scene], cuts: [24_000])))
        #expect(Self.refused(mix([])), "a track of no scenes")
        #expect(Self.refused(mix([scene], files: [])), "a sound of a file that is not there (and no trap on an empty list)")
        #expect(Self.refused(mix([SceneSoundTrack(samples: 10, sounds: [MixSound(file: 1, seconds: 0)])])))
        #expect(Self.refused(mix([SceneSoundTrack(samples: 10, sounds: [MixSound(file: -1, seconds: 0)])])))
        #expect(Self.refused(mix([SceneSoundTrack(samples: 0, sounds: [])])))
        #expect(Self.refused(mix([SceneSoundTrack(samples: Int.max, sounds: [])])), "no overflow: each scene is bounded")
        #expect(Self.refused(mix(Array(repeating: SceneSoundTrack(samples: MixAudio.maxSamples, sounds: []), count: 3))), "nor their sum")
        #expect(Self.refused(mix([scene], cuts: [30_000, 20_000])), "cuts out of order")
        #expect(Self.refused(mix([scene], cuts: [48_000])), "a cut at the end")
        #expect(Self.refused(mix([SceneSoundTrack(samples: 10, sounds: [MixSound(file: 0, seconds: .nan)])])))
        #expect(Self.refused(mix([SceneSoundTrack(samples: 10, sounds: [MixSound(file: 0, seconds: 0, gain: .infinity)])])))
        #expect(Self.refused(.mixed(MixedAudio(id: "m", sequence: 0, segments: [Data([1])], samples: [], last: true))))
        #expect(Self.refused(.mixed(MixedAudio(id: "m", sequence: -1, last: true))))
        #expect(Self.refused(.mixed(MixedAudio(id: "m", sequence: 0, segments: [Data([1])], samples: [0], last: true))))
        #expect(Self.refused(.mixed(MixedAudio(id: "m", sequence: 0, segments: [Data([1])], samples: [5], last: true, error: "x"))),
                "a failure that carries audio")
        #expect(Self.refused(.mixed(MixedAudio(id: "m", sequence: 0, segments: [Data(count: MixedAudio.maxBytesPerMessage + 1)],
                                               samples: [1_024], last: false))))
        #expect(!Self.refused(.mixed(MixedAudio(id: "m", sequence: 3, last: true, error: "busy"))))
    }

    @Test func theSplitPlannerStaysFiniteOnTheLargestPlanThatPassesValidation() {
        let scene = SceneSpec(name: "A", requiresLaTeX: false, fingerprint: nil)
        let animations = Array(repeating: PlannedAnimation(seconds: 1, frames: MessageLimits.maxFrames / 4), count: 4)
        let planner = SplitPlanner(costModel: CostModel(), slots: 200)
        let pieces = planner.pieces(scenes: [scene], plans: [ScenePlan(scene: "A", animations: animations)], quality: .fourK,
                                    split: true)
        #expect(pieces.reduce(0) { $0 + $1.frames } == MessageLimits.maxFrames / 4 * 4)
        #expect(pieces.count <= 4, "never more pieces than animations")
    }

    @Test func onlyThePlainBasenameOfASubmittedScriptNameIsUsed() {
        #expect(ScriptName.safe("lesson.py") == "lesson.py")
        #expect(ScriptName.safe("../../home/agent/.bashrc.py") == ScriptName.fallback, "no hidden files")
        #expect(ScriptName.safe("../../etc/evil.py") == "evil.py")
        #expect(ScriptName.safe("/usr/lib/python3/dist-packages/sitecustomize.py") == "sitecustomize.py")
        #expect(ScriptName.safe("notes.txt") == ScriptName.fallback)
        #expect(ScriptName.safe("a b.py") == ScriptName.fallback)
        #expect(ScriptName.safe(".py") == ScriptName.fallback)
        #expect(ScriptName.safe("dir/") == ScriptName.fallback)
    }

    @Test func aFrameHeaderWithHugeDimensionsIsAStreamErrorNotATrap() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        var header = Array("FRAM".utf8)
        for value in [UInt32.max, UInt32.max, 1] as [UInt32] { withUnsafeBytes(of: value.littleEndian) { header += $0 } }
        withUnsafeBytes(of: Double(15).bitPattern.littleEndian) { header += $0 }
        _ = header.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
        close(fds[1])
        #expect(throws: FrameStream.StreamError.self) { _ = try FrameStream(fd: fds[0]).next() }
    }

    @Test func boxesThatLieAboutTheirSizeAreMalformedNotTraps() {
        // A 64-bit size beyond Int, a size past the end, a box too short for its fields.
        let huge = Data([0, 0, 0, 1] + Array("moof".utf8) + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        let past = Data([0, 0, 0x10, 0] + Array("moof".utf8))
        let shortTfdt = Data([0, 0, 0, 24] + Array("moof".utf8) + [0, 0, 0, 16] + Array("traf".utf8) + [0, 0, 0, 8] + Array("tfdt".utf8))
        for data in [huge, past, shortTfdt] {
            #expect(throws: PackagingError.self) { _ = try FragmentRewriter.rewrite(data, sequenceNumber: 1, baseDecodeTime: 0) }
            #expect(throws: PackagingError.self) { _ = try SegmentInspector.sampleCount(ofFragment: data) }
            #expect(throws: PackagingError.self) { _ = try SegmentInspector.initSegment(data) }
        }
    }

    @Test func theInspectorReadsWhatTheEncoderWrote() throws {
        let (files, summaries, timescale) = try MediaAndPackagingTests.encode(seconds: 3, heights: [180, 120])
        for (index, summary) in summaries.enumerated() {
            let header = try SegmentInspector.initSegment(try #require(files.first { $0.rendition == index && $0.segment == nil }).data)
            #expect(header.codecs == summary.codecs && header.width == summary.width && header.height == summary.height)
            #expect(header.timescale == timescale)
            for segment in files where segment.rendition == index && segment.segment != nil {
                #expect(try SegmentInspector.sampleCount(ofFragment: segment.data) == segment.frames)
            }
        }
    }

    @Test func aScriptThatTakesTooLongToParseIsRefusedAndTheParserIsKilled() async throws {
        let classes = (0..<20_000).map { "class C\($0)(Scene):\n    def construct(self):\n        self.add(C\(($0 + 1) % 20_000))\n" }
        let script = "from manim import *\n" + classes.joined(separator: "\n")
        let impatient = SceneDiscovery(python: "python3", timeout: .milliseconds(300))
        await #expect(throws: ScriptError.tooExpensive(seconds: 1)) { _ = try await impatient.scenes(in: script) }
        // Given its normal time the same script (1.4 MB, one strongly connected ring of classes) parses linearly.
        let started = ContinuousClock.now
        let scenes = try await SceneDiscovery(python: "python3").scenes(in: script)
        #expect(scenes.count == 20_000)
        #expect(Set(scenes.compactMap(\.fingerprint)).count == 1, "one ring: every scene depends on every other")
        print("discovery of 20,000 classes took \(ContinuousClock.now - started)")
    }

    @Test func fingerprintsChangeOnlyForScenesThatDependOnAnEdit() async throws {
        let base = """
            from manim import *
            class A(Scene):
                def construct(self): self.add(Circle())
            class B(Scene):
                def construct(self): self.add(Square())
            class C(B):
                def construct(self): self.add(Dot())
            """
        let edited = base.replacingOccurrences(of: "Square()", with: "Square(color=RED)")
        let discovery = SceneDiscovery(python: "python3")
        let before = try await discovery.scenes(in: base).map(\.fingerprint)
        let after = try await discovery.scenes(in: edited).map(\.fingerprint)
        #expect(before[0] == after[0], "A does not depend on B")
        #expect(before[1] != after[1])
        #expect(before[2] != after[2], "C derives from B")
    }

    @Test func admittedKeysMayContainHashSignsAndCommentsStartLines() throws {
        let key = "!74<gxcU#g0$f25+q$2@AZF5^!mc!?4?I5^pm!z8"
        #expect(CurveKeys.isKey(key))
        let parsed = AuthorizedKeys.parse("# admitted agents\n\(key) agent-0\nnot-a-key\n  \n")
        #expect(parsed == [key: "agent-0"])
        let (publicKey, secretKey) = try CurveKeys.generate()
        #expect(CurveKeys.publicKey(of: secretKey) == publicKey)
        #expect(CurveKeys.publicKey(of: "too short") == nil)
    }
}
