import FarmModel
import FarmProtocol
import Foundation

/// Lays a video's planned sounds on its timeline, once every scene is rendered:
/// where each scene starts and ends in samples (from the frames its tasks really
/// rendered), which submitted file each sound plays, and where the video's
/// segments start, so the sound track is cut at the same places. A pure value:
/// what `MixAudio` asks of an agent.
struct SoundTimeline: Equatable {
    var scenes: [SceneSoundTrack]
    /// The submitted files the sounds play, each once, in the order `MixSound.file` counts them.
    var files: [AssetRef]
    var cuts: [Int]
    var samples: Int { scenes.reduce(0) { $0 + $1.samples } }

    /// No two cuts closer than this: an AAC frame is 1024 samples, and a fragment holds at least one.
    static let minimumSegmentSamples = 2_048

    /// The timeline of `renders` (the video's render tasks in playback order, all done), or `nil`
    /// when no scene adds a sound (the video keeps its silent outputs).
    /// - Throws: `SoundTimelineError` naming a sound the submission lacks, or a timeline out of range.
    static func make(renders: [TaskRecord], assets: [AssetRef]) throws(SoundTimelineError) -> SoundTimeline? {
        guard renders.contains(where: { $0.work.sounds?.isEmpty == false }) else { return nil }
        guard let frameRate = renders.lazy.compactMap(\.result).first(where: { $0.frames > 0 })?.frameRate,
              (1...MessageLimits.maxFrameRate).contains(frameRate) else { return nil }
        var scenes: [SceneSoundTrack] = []
        var files: [AssetRef] = []
        var cuts: [Int] = []
        var frame = 0
        /// A frame's first sample; frame counts are validated (≤ 10⁷ per task), their sum is checked here.
        func sample(at frame: Int) throws(SoundTimelineError) -> Int {
            let (scaled, overflow) = frame.multipliedReportingOverflow(by: MixAudio.sampleRate)
            guard !overflow, scaled / frameRate <= MixAudio.maxSamples else { throw .tooLong }
            return scaled / frameRate
        }
        var index = 0
        while index < renders.count {
            let scene = renders[index].scene
            var end = index
            while end < renders.count, renders[end].scene == scene { end += 1 }
            let tasks = renders[index..<end]
            index = end
            let sceneStart = frame
            for task in tasks {
                guard let result = task.result else { throw .notRendered(scene) }
                var segmentStart = frame
                for segment in result.renditions.first?.segments ?? [] {
                    if segmentStart > 0 { cuts.append(try sample(at: segmentStart)) }
                    segmentStart += segment.frames
                }
                guard frame <= MessageLimits.maxFrames * MessageLimits.maxScenes - result.frames else { throw .tooLong }
                frame += result.frames
            }
            let samples = try sample(at: frame) - sample(at: sceneStart)
            guard samples > 0 else { continue }  // a still: no time in the video
            var sounds: [MixSound] = []
            for planned in tasks.first?.work.sounds ?? [] {
                let name = planned.file.hasPrefix("./") ? String(planned.file.dropFirst(2)) : planned.file
                guard let asset = assets.first(where: { $0.name == name }) else { throw .missingFile(planned.file, scene: scene) }
                if !files.contains(asset) { files.append(asset) }
                // Manim's mix places a sound at a whole millisecond (pydub's `overlay(position=int(1000 * time))`):
                // so does the farm's, or speech at 2.6667 s would sound 0.67 ms later than Manim's.
                let start = (planned.seconds * 1_000).rounded(.towardZero) / 1_000
                sounds.append(MixSound(file: files.firstIndex(of: asset)!, seconds: start, gain: planned.gain))
            }
            scenes.append(SceneSoundTrack(samples: samples, sounds: sounds))
        }
        let total = scenes.reduce(0) { $0 + $1.samples }
        guard total > 0 else { return nil }
        var kept: [Int] = []
        for cut in cuts where cut - (kept.last ?? 0) >= minimumSegmentSamples && total - cut >= minimumSegmentSamples {
            kept.append(cut)
        }
        return SoundTimeline(scenes: scenes, files: files, cuts: kept)
    }
}

enum SoundTimelineError: Error, Equatable, CustomStringConvertible {
    case missingFile(String, scene: String)
    case notRendered(String)
    case tooLong

    var description: String {
        switch self {
        case .missingFile(let file, let scene):
            "scene \(scene) plays the sound \(file), which is not among the files submitted with the script (farm submit --asset \(file))"
        case .notRendered(let scene): "scene \(scene) has a task without a result"
        case .tooLong: "the video is too long for a sound track"
        }
    }
}
