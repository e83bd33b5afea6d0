import FarmModel
import FarmProtocol
import Foundation
import Packaging

/// A video's sound track, made once every scene is rendered (see `MixAudio`): the
/// coordinator lays the planned sounds on the rendered timeline and asks an agent
/// that mixes to decode, mix and encode them. Sound files come from strangers, so
/// they are decoded on agents only; what comes back is checked box by box before
/// it is published. An agent that fails or goes silent is replaced by another (up
/// to `maxMixAttempts`); a sound file that cannot be read fails the video, saying which.
extension FarmEngine {
    struct PendingMix {
        var peer: Data
        var initSegment: Data?
        var segments: [(data: Data, samples: Int)] = []
        var bytes = 0
        var nextSequence = 0
        var continuation: CheckedContinuation<MixOutcome?, Never>?
        var outcome: MixOutcome?
    }

    enum MixOutcome: Sendable {
        case track(SoundTrack)
        /// The sounds are at fault: the video fails with this.
        case badInput(String)
        /// The agent is: another is asked.
        case agentFailed(String)
    }

    static let maxMixAttempts = 3

    /// The video's sound track, or `nil` when no scene adds a sound.
    /// - Throws: `PublishingError` saying why the video cannot have its sound.
    func soundTrack(for video: VideoRecord, _ renders: [TaskRecord]) async throws -> SoundTrack? {
        let timeline: SoundTimeline
        do {
            guard let made = try SoundTimeline.make(renders: renders, assets: video.options.assets ?? []) else { return nil }
            timeline = made
        } catch {
            throw PublishingError(error.description)
        }
        let assets = try await assetFiles(for: video) ?? []
        let files = timeline.files.compactMap { ref in assets.first { $0.name == ref.name } }
        guard files.count == timeline.files.count else { throw PublishingError("a sound file of the video is no longer stored") }
        var tried: Set<Data> = []
        var lastProblem = "no connected agent makes sound tracks"
        // An agent that mixes may still be connecting (a restart): wait a while for one.
        let deadline = ContinuousClock.now + .seconds(configuration.joinTimeoutSeconds * 2)
        var attempts = 0
        while attempts < Self.maxMixAttempts {
            guard let peer = mixingAgent(avoiding: tried) else {
                guard ContinuousClock.now < deadline, !Task.isCancelled else { break }
                try await Task.sleep(for: .milliseconds(250))
                continue
            }
            attempts += 1
            tried.insert(peer)
            let request = MixAudio(id: UUID().uuidString.lowercased(), videoID: video.id, files: files,
                                   scenes: timeline.scenes, cuts: timeline.cuts)
            switch await mix(request, on: peer) {
            case .track(let track):
                do {
                    try check(track, for: timeline)
                    return track
                } catch {
                    lastProblem = "an agent's sound track is not as asked: \(error)"
                    logger.warning("refused a sound track", metadata: ["video": "\(video.id)", "error": "\(error)"])
                }
            case .badInput(let problem):
                throw PublishingError("the video's sound cannot be made: \(problem)")
            case .agentFailed(let problem):
                lastProblem = problem
                logger.warning("an agent could not make a sound track", metadata: ["video": "\(video.id)", "error": "\(problem)"])
            }
        }
        throw PublishingError("the video's sound track could not be made: \(lastProblem)")
    }

    /// Asks `peer` for the track and waits for its answers, as long as a track of this length may take.
    private func mix(_ request: MixAudio, on peer: Data) async -> MixOutcome {
        let seconds = request.samples / MixAudio.sampleRate
        // Decoding, mixing and AAC run far faster than real time: a minute for every hour of sound, at least the join timeout.
        let timeout = Duration.seconds(configuration.joinTimeoutSeconds + seconds / 60)
        pendingMixes[request.id] = PendingMix(peer: peer)
        send(.mix(request), peer)
        let outcome = await withTaskGroup(of: MixOutcome?.self) { group in
            group.addTask { await self.awaitMix(request.id) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            settleMix(request.id, with: .agentFailed("the agent did not answer within \(timeout)"))
            group.cancelAll()
            return first
        }
        return outcome ?? .agentFailed("the agent did not answer within \(timeout)")
    }

    /// One of an agent's answers to a mix; only the agent it was asked of may give them, in order.
    func mixed(_ answer: MixedAudio, from peer: Data) {
        guard var pending = pendingMixes[answer.id], pending.peer == peer, pending.outcome == nil else {
            core.refusedReports += 1
            return
        }
        guard answer.sequence == pending.nextSequence else {
            return settleMix(answer.id, with: .agentFailed("answer \(answer.sequence) came where \(pending.nextSequence) was due"))
        }
        if let error = answer.error {
            return settleMix(answer.id, with: answer.inputError == true ? .badInput(error) : .agentFailed(error))
        }
        pending.nextSequence += 1
        if let initSegment = answer.initSegment {
            guard pending.initSegment == nil else { return settleMix(answer.id, with: .agentFailed("a second init segment")) }
            pending.initSegment = initSegment
        }
        pending.bytes += answer.segments.reduce(answer.initSegment?.count ?? 0) { $0 + $1.count }
        guard pending.bytes <= SoundTrack.maxBytes else {
            return settleMix(answer.id, with: .agentFailed("a sound track of more than \(SoundTrack.maxBytes) bytes"))
        }
        pending.segments += zip(answer.segments, answer.samples).map { ($0, $1) }
        pendingMixes[answer.id] = pending
        if answer.last {
            guard let initSegment = pending.initSegment, !pending.segments.isEmpty else {
                return settleMix(answer.id, with: .agentFailed("a sound track without its init segment or fragments"))
            }
            settleMix(answer.id, with: .track(SoundTrack(initSegment: initSegment, segments: pending.segments)))
        }
    }

    /// The connection of an agent making a track closed: another is asked.
    func abandonMixes(of peer: Data) {
        for (id, pending) in pendingMixes where pending.peer == peer {
            settleMix(id, with: .agentFailed("the agent's connection closed"))
        }
    }

    private func awaitMix(_ id: String) async -> MixOutcome? {
        await withCheckedContinuation { continuation in
            guard let pending = pendingMixes[id], pending.outcome == nil else {
                return continuation.resume(returning: pendingMixes.removeValue(forKey: id)?.outcome)
            }
            pendingMixes[id]?.continuation = continuation
        }
    }

    /// Ends a mix's wait with `outcome` (the first settlement wins), and forgets it once nobody waits.
    private func settleMix(_ id: String, with outcome: MixOutcome) {
        guard var pending = pendingMixes[id] else { return }
        if pending.outcome == nil {
            pending.outcome = outcome
            pending.segments = []  // the outcome holds the track now
        }
        if let continuation = pending.continuation {
            pendingMixes[id] = nil
            continuation.resume(returning: pending.outcome!)
            return
        }
        pendingMixes[id] = pending
    }

    /// A connected agent that makes sound tracks and has not been tried, the least busy.
    private func mixingAgent(avoiding tried: Set<Data>) -> Data? {
        core.agents.values
            .filter { $0.disconnectedAt == nil && $0.acceptsWork && mixingPeers.contains($0.peer) && !tried.contains($0.peer) }
            .min { $0.running.count < $1.running.count }?.peer
    }

    /// The track is what was asked: the farm's AAC track 2, whole fragments, as long as the timeline.
    private func check(_ track: SoundTrack, for timeline: SoundTimeline) throws {
        try SegmentInspector.soundInit(track.initSegment)
        var samples = 0
        for (index, segment) in track.segments.enumerated() {
            let frames = try SegmentInspector.sampleCount(ofFragment: segment.data)
            // Each AAC frame is 1024 samples; the last may hold fewer.
            guard segment.samples <= frames * 1_024, segment.samples > (frames - 1) * 1_024 else {
                throw PublishingError("fragment \(index + 1) says \(segment.samples) samples but holds \(frames) AAC frames")
            }
            samples += segment.samples
        }
        // The encoder's priming (one AAC frame) and the last frame's padding are the only slack.
        guard abs(samples - timeline.samples) <= 2 * 1_024 else {
            throw PublishingError("the track holds \(samples) samples, the video \(timeline.samples)")
        }
        guard track.segments.count <= timeline.cuts.count + 1 else {
            throw PublishingError("\(track.segments.count) fragments for \(timeline.cuts.count + 1) segments")
        }
    }
}
