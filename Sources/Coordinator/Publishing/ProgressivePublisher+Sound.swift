import FarmModel
import Foundation
import Packaging

/// A video's sound: an audio rendition beside the ladder (`audio/`, referenced
/// by every variant) and a second track in `video.mp4`.
///
/// The track exists only once every scene is rendered, so a video with sounds
/// holds its MP4's parts back until then (its playlists still grow as it
/// renders; a player that started early plays the picture, and the final master
/// playlist names the sound). The MP4 is then cut from the merged init segment
/// and the video's and the sound's fragments in time order. Each keeps the
/// sequence numbers of its own playlist, so the file's run 1, 1, 2, 2, …:
/// players order fragments by their decode times, which are exact.
extension ProgressivePublisher {
    static let soundFolder = "audio"

    /// Publishes the sound's init segment, fragments and playlist, and notes the rendition for the master playlist.
    func publishSound(_ video: VideoRecord, _ sound: SoundTrack) async throws {
        let store = objects.store
        let folder = Self.soundFolder
        try await store.put(sound.initSegment, key: objects.outputKey(videoID: video.id, path: "\(folder)/init.mp4"),
                            contentType: "audio/mp4", cacheControl: ObjectOutputConfiguration.Caching.immutable)
        var listed: [PlaylistSegment] = []
        var pieces: [(piece: MP4Piece, start: Double)] = []
        var samples = 0
        for (index, segment) in sound.segments.enumerated() {
            let name = String(format: "segment_%05d.m4s", index + 1)
            let key = objects.outputKey(videoID: video.id, path: "\(folder)/\(name)")
            try await store.put(segment.data, key: key, contentType: "audio/iso.segment",
                                cacheControl: ObjectOutputConfiguration.Caching.immutable)
            // The first fragment also holds the encoder's priming, which the edit list skips: it plays for less.
            let played = index == 0 ? max(segment.samples - AudioCodecs.primingSamples, 1) : segment.samples
            listed.append(PlaylistSegment(uri: name, seconds: Double(played) / Double(SoundTrack.sampleRate), bytes: segment.data.count))
            pieces.append((MP4Piece(key: key, size: segment.data.count), Double(samples) / Double(SoundTrack.sampleRate)))
            samples += played
        }
        let target = max(video.encoding.segmentSeconds, Playlists.targetDuration(of: listed))
        try await store.put(Data(Playlists.media(initURI: "init.mp4", segments: listed, targetDuration: target).utf8),
                            key: objects.outputKey(videoID: video.id, path: "\(folder)/index.m3u8"),
                            contentType: "application/vnd.apple.mpegurl", cacheControl: ObjectOutputConfiguration.Caching.finished)
        var state = progress[video.id] ?? Progress()
        state.sound = Playlists.AudioRendition(
            uri: "\(folder)/index.m3u8",
            bandwidth: Bandwidth(segments: listed.map { ($0.bytes, $0.seconds) }, targetDuration: Double(target)),
            codecs: AudioCodecs.aacLC, channels: 2)
        state.soundPieces = pieces
        state.soundInit = sound.initSegment
        state.soundBytes = listed.reduce(sound.initSegment.count) { $0 + $1.bytes }
        progress[video.id] = state
    }

    /// Rewrites the held MP4's pieces as both tracks: the merged init segment first, then every
    /// fragment of either in time order (the picture's first where they start together).
    func interleaveSoundIntoMP4(_ video: VideoRecord) async throws {
        guard var state = progress[video.id], let soundInit = state.soundInit, state.mp4.parts.isEmpty,
              let rung = video.encoding.renditions.first, state.mp4.pending.count == (state.segments.first?.count ?? 0) + 1 else {
            throw PublishingError("video.mp4's pieces were not held for its sound")
        }
        let videoInit = try await objects.store.get(objects.outputKey(videoID: video.id, path: "\(rung.name)/init.mp4"))
        let merged = Data(try InitSegmentMerger.merge(video: [UInt8](videoInit), audio: [UInt8](soundInit)))
        let initKey = objects.outputKey(videoID: video.id, path: Self.mergedInitPath)
        try await objects.store.put(merged, key: initKey, contentType: "video/mp4", cacheControl: ObjectOutputConfiguration.Caching.finished)

        var pictures: [(piece: MP4Piece, start: Double)] = []
        var start = 0.0
        for (piece, segment) in zip(state.mp4.pending.dropFirst(), state.segments[0]) {
            pictures.append((piece, start))
            start += segment.seconds
        }
        var pieces = [MP4Piece(key: initKey, size: merged.count)]
        var sounds = state.soundPieces[...]
        for picture in pictures {
            while let next = sounds.first, next.start < picture.start {
                pieces.append(next.piece)
                sounds.removeFirst()
            }
            pieces.append(picture.piece)
        }
        pieces += sounds.map { $0.piece }
        state.mp4.pending = pieces
        state.mp4.pendingBytes = pieces.reduce(0) { $0 + $1.size }
        progress[video.id] = state
    }

    /// The merged init segment's place while `video.mp4` is built; deleted once it is complete.
    static let mergedInitPath = "audio/.mp4-init.mp4"
}

/// RFC 6381 codec strings of the farm's sound.
enum AudioCodecs {
    static let aacLC = "mp4a.40.2"
    /// Samples libavcodec's AAC encoder puts before the first input sample (its edit list skips them).
    static let primingSamples = 1_024
}
