import FarmModel
import FarmProtocol
import Foundation
import Packaging

/// Object-store mode: publishing while rendering, finishing, and deleting.
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
        guard let publisher else { return }
        inBackground {
            do {
                try await publisher.advance(videoID) { await self.renderSnapshot(videoID) }
                await self.notePlayable(videoID, await publisher.playableSeconds(videoID))
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

    /// Finishes an object-store video: the rest of its segments, `VOD` playlists, the MP4.
    func publishFinal(_ video: VideoRecord, _ renders: [TaskRecord]) async throws -> (frames: Int, seconds: Double) {
        guard let publisher else { throw PackagingError.empty }
        let ordered = renders.filter { $0.work.kind == .render }.sorted { $0.ordinal < $1.ordinal }
        let published = try await publisher.finish(video, ordered)
        if let team = video.teamID { usage.addStorage(team: team, bytes: published.bytes) }
        traffic.replacedBytes = await publisher.replacedBytes
        traffic.mp4Bytes = await publisher.mp4Bytes
        playableSeconds[video.id] = nil
        logger.info("published to the object store", metadata: [
            "video": "\(video.id)", "agentBytes": "\(traffic.agentBytes)", "relayedBytes": "\(traffic.relayedBytes)",
            "replacedBytes": "\(traffic.replacedBytes)", "mp4Bytes": "\(traffic.mp4Bytes)",
        ])
        return (published.frames, published.seconds)
    }

    /// A video ended: if it ended without finishing, what was published of it while it rendered goes.
    func endPublishing(_ videoID: String) async {
        guard let publisher, let objects = configuration.objectOutputs else { return }
        playableSeconds[videoID] = nil
        guard await publisher.abandon(videoID) else { return }
        _ = try? await objects.client.deletePrefix(objects.videoPrefix(videoID))
        logger.info("deleted the partly published outputs of a video that did not finish", metadata: ["video": "\(videoID)"])
    }

    /// Deletes what the store holds of a video: its published folder and every attempt's uploads.
    func deleteStoredOutputs(of videoID: String) async -> Bool {
        guard let objects = configuration.objectOutputs else { return false }
        _ = await publisher?.abandon(videoID)
        playableSeconds[videoID] = nil
        let published = (try? await objects.client.deletePrefix(objects.videoPrefix(videoID))) ?? 0
        _ = try? await objects.client.deletePrefix(objects.attemptsPrefix(videoID))
        return published > 0
    }
}
