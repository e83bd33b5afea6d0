@testable import Coordinator
import FarmModel
import FarmProtocol
import Foundation
@testable import Packaging
import Testing

/// Where a video's sounds go on its timeline, and the init segment of an MP4 with both tracks: pure values.
struct SoundTimelineTests {
    /// A done render task of `scene` with segments of these frame counts at 15 fps.
    static func task(_ ordinal: Int, _ scene: String, segments: [Int], sounds: [PlannedSound]? = nil) -> TaskRecord {
        var task = TaskRecord(id: "v-\(ordinal)", videoID: "v", ordinal: ordinal, scene: scene, requiresLaTeX: false, createdAt: Date())
        task.state = .done
        task.work.sounds = sounds
        let rendition = RenditionOutput(width: 854, height: 480, codecs: "avc1.64001e", initSize: 1, initCRC32: 0,
                                        segments: segments.enumerated().map { SegmentInfo(index: $0, frames: $1, size: 1, crc32: 0) })
        task.result = TaskResult(ref: AttemptRef(taskID: task.id, attempt: 1), frames: segments.reduce(0, +), sourceWidth: 854,
                                 sourceHeight: 480, frameRate: 15, timescale: 15_360, renditions: [rendition], renderSeconds: 1)
        return task
    }

    static let click = AssetRef(name: "tones/click.wav", size: 10, sha256: String(repeating: "a", count: 64))
    static let hum = AssetRef(name: "hum.wav", size: 10, sha256: String(repeating: "b", count: 64))

    @Test func scenesAndRangesBecomeOneTimelineCutWhereTheVideoIsCut() throws {
        let sounds = [PlannedSound(file: "./tones/click.wav", seconds: 0.5), PlannedSound(file: "hum.wav", seconds: 2, gain: -6)]
        let renders = [
            Self.task(0, "Intro", segments: [30]),
            // One scene in two ranges: its sounds once, its length both ranges'.
            Self.task(1, "Talk", segments: [90, 30], sounds: sounds),
            Self.task(2, "Talk", segments: [45], sounds: sounds),
            Self.task(3, "Still", segments: []),
            Self.task(4, "End", segments: [15], sounds: [PlannedSound(file: "tones/click.wav", seconds: 0)]),
        ]
        let timeline = try #require(try SoundTimeline.make(renders: renders, assets: [Self.hum, Self.click]))
        #expect(timeline.scenes.map(\.samples) == [96_000, 528_000, 48_000], "30, 165 and 15 frames; the still takes no time")
        #expect(timeline.scenes[1].sounds == [MixSound(file: 0, seconds: 0.5), MixSound(file: 1, seconds: 2, gain: -6)])
        #expect(timeline.scenes[2].sounds == [MixSound(file: 0, seconds: 0)], "each file once")
        #expect(timeline.files == [Self.click, Self.hum])
        #expect(timeline.cuts == [96_000, 384_000, 480_000, 624_000], "where every video segment after the first starts")
        #expect(timeline.samples == 672_000)
    }

    @Test func aSilentVideoHasNoTimelineAndAMissingFileIsNamed() throws {
        #expect(try SoundTimeline.make(renders: [Self.task(0, "A", segments: [30])], assets: []) == nil)
        let renders = [Self.task(0, "A", segments: [30], sounds: [PlannedSound(file: "gone.wav", seconds: 0)])]
        #expect(throws: SoundTimelineError.missingFile("gone.wav", scene: "A")) { try SoundTimeline.make(renders: renders, assets: [Self.click]) }
    }

    @Test func soundsStartOnWholeMillisecondsAsInManimsMix() throws {
        let renders = [Self.task(0, "A", segments: [60], sounds: [PlannedSound(file: "hum.wav", seconds: 40.0 / 15)])]
        let timeline = try #require(try SoundTimeline.make(renders: renders, assets: [Self.hum]))
        #expect(timeline.scenes[0].sounds.map(\.seconds) == [2.666], "pydub's overlay(position=int(1000 * time))")
    }

    @Test func cutsCloserThanTwoAACFramesAreDropped() throws {
        // At 60 fps a one-frame segment is 800 samples: shorter than an AAC frame.
        // Segments start at frames 3, 4 and 64 of 65: samples 2,400, 3,200 and 51,200 of 52,000.
        var renders = [Self.task(0, "A", segments: [3, 1, 60, 1], sounds: [PlannedSound(file: "hum.wav", seconds: 0)])]
        renders[0].result?.frameRate = 60
        let timeline = try #require(try SoundTimeline.make(renders: renders, assets: [Self.hum]))
        #expect(timeline.cuts == [2_400], "the second cut is too close to the first, the last to the end")
    }

    @Test func theMergedInitSegmentHoldsBothTracksAndRefusesOthers() throws {
        func box(_ type: String, _ payload: [UInt8]) -> [UInt8] { InitSegmentMerger.box(type, payload) }
        func track(_ id: UInt8) -> [UInt8] { box("trak", box("tkhd", [0, 0, 0, 3] + [UInt8](repeating: 0, count: 8) + [0, 0, 0, id] + [UInt8](repeating: 0, count: 68))) }
        func initSegment(_ id: UInt8) -> [UInt8] {
            box("ftyp", Array("iso6".utf8) + [0, 0, 2, 0]) + box("moov", box("mvhd", [UInt8](repeating: 0, count: 96) + [0, 0, 0, id + 1])
                + track(id) + box("mvex", box("trex", [0, 0, 0, 0, 0, 0, 0, id] + [UInt8](repeating: 0, count: 16))))
        }
        let merged = try InitSegmentMerger.merge(video: initSegment(1), audio: initSegment(2))
        let top = try BoxReader.children(in: merged, from: 0, to: merged.count)
        #expect(top.map(\.type) == ["ftyp", "moov"])
        let movie = try BoxReader.children(in: merged, from: top[1].payload, to: top[1].end)
        #expect(movie.map(\.type) == ["mvhd", "trak", "trak", "mvex"])
        #expect(Array(merged[(movie[0].end - 4)..<movie[0].end]) == [0, 0, 0, 3], "the next track ID follows both")
        #expect(try movie[1...2].map { try InitSegmentMerger.trackID(of: $0, in: merged) } == [1, 2])
        #expect(try BoxReader.children(in: merged, from: movie[3].payload, to: movie[3].end).map(\.type) == ["trex", "trex"])
        #expect(throws: PackagingError.self) { try InitSegmentMerger.merge(video: initSegment(2), audio: initSegment(1)) }
        #expect(throws: PackagingError.self) { try InitSegmentMerger.merge(video: Array(initSegment(1).prefix(30)), audio: initSegment(2)) }
    }
}
