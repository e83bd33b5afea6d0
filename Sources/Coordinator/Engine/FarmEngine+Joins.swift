import FarmModel
import FarmProtocol
import Foundation
import ObjectStorage

/// Parts of `video.mp4` built by agents (`JoinPart`), so the MP4's bytes never pass
/// through the coordinator: an agent fetches the part's objects with presigned GETs
/// and puts their concatenation with a presigned UploadPart URL. The store's own
/// listing of the part (ListParts: its size and ETag) is what is believed, not the
/// agent; a part that is not as asked is built by the coordinator instead.
///
/// A part goes only to an agent that rendered some of the same video: an agent
/// that could write wrong bytes of the right size into a part (which no check
/// short of reading it back would see) could already render wrong frames into
/// that video, and into no other. A video with no such agent connected (all of
/// it from the render cache, or its agents gone) has its parts built here.
extension FarmEngine {
    /// One join an agent was asked for and has not answered.
    struct PendingJoin {
        var peer: Data
        var continuation: CheckedContinuation<JoinedPart?, Never>?
        var answer: JoinedPart?
        var settled = false
    }

    /// The joiner the publisher uses in object-store mode.
    func installPartJoiner() async {
        guard configuration.objectOutputs?.s3 != nil else { return }
        await publisher.setJoiner { [weak self] videoID, pieces, key, uploadID, number in
            await self?.joinPart(videoID: videoID, pieces: pieces, key: key, uploadID: uploadID, number: number)
        }
    }

    /// Asks an agent for part `number`; its ETag once the store lists it as asked, else `nil`.
    func joinPart(videoID: String, pieces: [MP4Piece], key: String, uploadID: String, number: Int) async -> String? {
        guard let s3 = configuration.objectOutputs?.s3, let peer = joiningAgent(for: videoID) else { return nil }
        let expected = pieces.reduce(0) { $0 + $1.size }
        let timeout = Duration.seconds(configuration.joinTimeoutSeconds + expected >> 20)  // and a second per MiB
        let id = UUID().uuidString.lowercased()
        let request: JoinPart
        do {
            let expires = 60 + Int(timeout.components.seconds)
            var sources: [JoinSource] = []
            for piece in pieces {
                sources.append(JoinSource(url: try await s3.presignedGet(key: piece.key, expires: expires).absoluteString, size: piece.size))
            }
            let target = try await s3.presignedUploadPart(key: key, uploadID: uploadID, number: number, expires: expires)
            request = JoinPart(id: id, videoID: videoID, sources: sources, target: target.absoluteString)
            try request.validate()
        } catch {
            logger.warning("could not ask an agent for a part of video.mp4", metadata: ["video": "\(videoID)", "error": "\(error)"])
            return nil
        }
        pendingJoins[id] = PendingJoin(peer: peer)
        send(.join(request), peer)
        let answer = await withTaskGroup(of: JoinedPart?.self) { group in
            group.addTask { await self.awaitJoin(id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            settleJoin(id, with: nil)  // the timeout won, or the answer did: either way the other child ends now
            group.cancelAll()
            return first
        }
        guard let answer else {
            logger.warning("an agent did not build its part of video.mp4 in time; the coordinator builds it",
                           metadata: ["video": "\(videoID)", "part": "\(number)"])
            return nil
        }
        if let error = answer.error {
            logger.info("an agent could not build a part of video.mp4; the coordinator builds it",
                        metadata: ["video": "\(videoID)", "part": "\(number)", "error": "\(error)"])
            return nil
        }
        do {
            guard let stored = try await s3.storedPart(number, key: key, uploadID: uploadID) else {
                throw PublishingError("the store holds no part \(number)")
            }
            guard stored.size == expected, answer.size == expected else {
                throw PublishingError("part \(number) is \(stored.size) bytes in the store, not \(expected)")
            }
            // Unless SSE-KMS encrypts the bucket (its ETags are not MD5s), the ETag is the MD5 the agent sent.
            guard storeETagsAreMD5 == false || stored.etag == answer.md5 else {
                throw PublishingError("part \(number) in the store has ETag \(stored.etag.prefix(64)), the agent sent MD5 \(answer.md5)")
            }
            metrics.mp4PartsByAgents.increment()
            return stored.etag
        } catch {
            logger.warning("an agent's part of video.mp4 is not as asked; the coordinator builds it",
                           metadata: ["video": "\(videoID)", "part": "\(number)", "error": "\(error)"])
            return nil
        }
    }

    /// An agent's answer to a join; only the agent it was asked of may give it.
    func joined(_ answer: JoinedPart, from peer: Data) {
        guard let pending = pendingJoins[answer.id], pending.peer == peer, !pending.settled else {
            core.refusedReports += 1
            return
        }
        settleJoin(answer.id, with: answer)
    }

    /// The connection of an agent with joins outstanding closed: the coordinator builds those parts now.
    func abandonJoins(of peer: Data) {
        for (id, pending) in pendingJoins where pending.peer == peer { settleJoin(id, with: nil) }
    }

    private func awaitJoin(_ id: String) async -> JoinedPart? {
        await withCheckedContinuation { continuation in
            guard let pending = pendingJoins[id], !pending.settled else {
                let answer = pendingJoins.removeValue(forKey: id)?.answer
                return continuation.resume(returning: answer)
            }
            pendingJoins[id]?.continuation = continuation
        }
    }

    /// Ends a join's wait with `answer` (the first settlement wins), and forgets it once nobody waits.
    private func settleJoin(_ id: String, with answer: JoinedPart?) {
        guard var pending = pendingJoins[id] else { return }
        if !pending.settled {
            pending.settled = true
            pending.answer = answer
        }
        if let continuation = pending.continuation {
            pending.continuation = nil
            continuation.resume(returning: pending.answer)
            pendingJoins[id] = nil
            return
        }
        pendingJoins[id] = pending
    }

    /// A connected agent that builds parts and rendered some of this video (an accepted task), the least busy.
    func joiningAgent(for videoID: String) -> Data? {
        let rendered = Set((core.taskIDsByVideo[videoID] ?? []).compactMap { core.tasks[$0] }
            .filter { $0.state == .done }.compactMap(\.agentID))
        return core.agents.values
            .filter { rendered.contains($0.record.id) && $0.disconnectedAt == nil && $0.acceptsWork && joiningPeers.contains($0.peer) }
            .min { $0.running.count < $1.running.count }?.peer
    }
}
