import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Packaging

extension FarmEngine {
    /// Packages a video's accepted renders into its HLS ladder and MP4 (off the
    /// cooperative pool), then tells the core how it went.
    func assemble(_ video: VideoRecord, _ renders: [TaskRecord]) async {
        packaging.insert(video.id)
        defer { packaging.remove(video.id) }
        let output = configuration.publishedDirectory.appendingPathComponent(video.id)
        let outcome: AssemblyOutcome
        if configuration.objectOutputs != nil {
            do {
                let published = try await publishFinal(video, renders)
                outcome = .published(frames: published.frames, seconds: published.seconds)
            } catch {
                outcome = .failed("publishing to the object store failed: \(error)")
            }
            await apply(.assembled(videoID: video.id, outcome))
            return
        }
        do {
            let (packager, inputs) = try packagingInputs(video, renders, renders.compactMap(\.result))
            let report = try await offloaded { try packager.package(inputs, into: output) }
            outcome = .published(frames: report.frames, seconds: report.seconds)
            if let team = video.teamID { usage.addStorage(team: team, bytes: outputBytes(of: video.id)) }
        } catch {
            outcome = .failed("\(error)")
        }
        await apply(.assembled(videoID: video.id, outcome))
    }

    private func packagingInputs(_ video: VideoRecord, _ videoTasks: [TaskRecord], _ results: [TaskResult]) throws
        -> (HLSPackager, [HLSPackager.RenditionInput])
    {
        guard results.count == videoTasks.count, let first = results.first(where: { $0.frames > 0 }) else {
            throw PackagingError.empty
        }
        let rungs = video.encoding.renditions.count
        for (task, result) in zip(videoTasks, results) where result.frames > 0 {
            // Results were verified when accepted; a cached one may predate that, so check again rather than index blindly.
            guard result.renditions.count == rungs, (try? result.validate()) != nil else {
                throw AssemblyError.inconsistentScenes("scene \(task.scene)'s result does not describe the video's \(rungs) renditions")
            }
            guard result.frameRate == first.frameRate, result.timescale == first.timescale,
                  result.sourceWidth == first.sourceWidth, result.sourceHeight == first.sourceHeight else {
                throw AssemblyError.inconsistentScenes(
                    "scene \(task.scene) rendered at \(result.sourceWidth)x\(result.sourceHeight)@\(result.frameRate) "
                        + "but \(videoTasks[0].scene) at \(first.sourceWidth)x\(first.sourceHeight)@\(first.frameRate) "
                        + "(does the script set config.frame_rate or the resolution?)")
            }
        }
        let inputs = video.encoding.renditions.indices.map { index in
            let described = first.renditions[index]
            let scenes = zip(videoTasks, results).map { task, result in
                let folder = staging.acceptedFolder(videoID: video.id, taskID: task.id)
                let segments = result.frames == 0 ? [] : result.renditions[index].segments.map { segment in
                    (folder.appendingPathComponent(SegmentStaging.fileName(SegmentID(rendition: index, segment: segment.index))),
                     segment.frames)
                }
                return HLSPackager.SceneFiles(
                    initSegment: folder.appendingPathComponent(SegmentStaging.fileName(SegmentID(rendition: index, segment: nil))),
                    segments: segments)
            }
            return HLSPackager.RenditionInput(
                name: video.encoding.renditions[index].name, width: described.width, height: described.height,
                codecs: described.codecs, scenes: scenes)
        }
        let packager = HLSPackager(frameRate: first.frameRate, timescale: first.timescale,
                                   targetSegmentSeconds: video.encoding.segmentSeconds)
        return (packager, inputs)
    }
}

/// Why accepted scenes could not be joined.
enum AssemblyError: Error, CustomStringConvertible {
    case inconsistentScenes(String)

    var description: String {
        switch self {
        case .inconsistentScenes(let why): why
        }
    }
}
