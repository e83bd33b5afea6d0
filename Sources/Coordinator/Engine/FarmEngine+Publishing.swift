import FarmModel
import FarmProtocol
import Foundation
import Packaging

/// Publishing, in the data folder or an object store alike: while rendering, at the end, and deleting.
extension FarmEngine {
    /// The video and its render tasks in playback order, as the core holds them now.
    func renderSnapshot(_ videoID: String) -> (VideoRecord, [TaskRecord])? {
        guard let video = core.videos[videoID] else { return nil }
        let renders = (core.taskIDsByVideo[videoID] ?? []).compactMap { core.tasks[$0] }
            .filter { $0.work.kind == .render }.sorted { $0.ordinal < $1.ordinal }
        return (video, renders)
    }

    /// Extends the video's growing playlists with whatever became contiguous.
    func publishProgressively(_ videoID: String) {
        inBackground {
            do {
                try await self.publisher.advance(videoID) { await self.renderSnapshot(videoID) }
                await self.notePlayable(videoID, await self.publisher.playableSeconds(videoID))
            } catch {
                // Retried with the next accepted task, and for good when the video is assembled.
                self.logger.warning("could not publish a rendered prefix", metadata: ["video": "\(videoID)", "error": "\(error)"])
            }
        }
    }

    func notePlayable(_ videoID: String, _ seconds: Double?) {
        guard core.videos[videoID] != nil || seconds == nil else { return }
        playableSeconds[videoID] = seconds
    }

    /// Finishes a video: the rest of its segments, final playlists, the MP4.
    func publishFinal(_ video: VideoRecord, _ renders: [TaskRecord]) async throws -> (frames: Int, seconds: Double) {
        let ordered = renders.filter { $0.work.kind == .render }.sorted { $0.ordinal < $1.ordinal }
        let sound = try await soundTrack(for: video, ordered)
        let published = try await publisher.finish(video, ordered, sound: sound)
        if let team = video.teamID { usage.addStorage(team: team, bytes: published.bytes) }
        playableSeconds[video.id] = nil
        if configuration.objectOutputs != nil {
            traffic.replacedBytes = await publisher.replacedBytes
            traffic.mp4Bytes = await publisher.mp4Bytes
            let builtHere = await publisher.partsBuiltHere
            metrics.mp4PartsByCoordinator.increment(by: Int64(builtHere - traffic.mp4PartsBuiltHere))
            traffic.mp4PartsBuiltHere = builtHere
            logger.info("published to the object store", metadata: [
                "video": "\(video.id)", "agentBytes": "\(traffic.agentBytes)", "relayedBytes": "\(traffic.relayedBytes)",
                "replacedBytes": "\(traffic.replacedBytes)", "mp4Bytes": "\(traffic.mp4Bytes)",
            ])
        }
        return (published.frames, published.seconds)
    }

    /// A video ended: if it ended without finishing, what was published of it while it rendered goes.
    func endPublishing(_ videoID: String) async {
        playableSeconds[videoID] = nil
        guard await publisher.abandon(videoID) else { return }
        _ = try? await outputs.store.deletePrefix(outputs.videoPrefix(videoID))
        logger.info("deleted the partly published outputs of a video that did not finish", metadata: ["video": "\(videoID)"])
    }

    /// Deletes what the store holds of a video: its published folder and every attempt's uploads.
    func deleteStoredOutputs(of videoID: String) async -> Bool {
        _ = await publisher.abandon(videoID)
        playableSeconds[videoID] = nil
        let published = (try? await outputs.store.deletePrefix(outputs.videoPrefix(videoID))) ?? 0
        if configuration.objectOutputs != nil {
            _ = try? await outputs.store.deletePrefix(outputs.attemptsPrefix(videoID))
        }
        return published > 0
    }
}
