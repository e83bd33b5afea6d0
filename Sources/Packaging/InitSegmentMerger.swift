/// Joins a video track's init segment and a sound track's into the init
/// segment of one MP4 that carries both, so `video.mp4` plays with sound.
///
/// Both come from the farm's own fragmented-MP4 writer: an `ftyp` and a `moov`
/// holding `mvhd`, one `trak` and `mvex` with one `trex`. The video's is track 1
/// and the sound's track 2 (`AudioEncoder` numbers it so), so no fragment needs
/// renumbering: the merged `moov` is the video's `mvhd` (next track ID 3), both
/// `trak`s, and one `mvex` with both `trex`s. Nothing inside the tracks changes.
public enum InitSegmentMerger {
    public static func merge(video: [UInt8], audio: [UInt8]) throws(PackagingError) -> [UInt8] {
        let videoBoxes = try BoxReader.children(in: video, from: 0, to: video.count)
        let audioBoxes = try BoxReader.children(in: audio, from: 0, to: audio.count)
        guard let videoMovie = videoBoxes.first(where: { $0.type == "moov" }),
              let audioMovie = audioBoxes.first(where: { $0.type == "moov" }) else {
            throw .malformedFragment("an init segment without moov")
        }
        let videoParts = try BoxReader.children(in: video, from: videoMovie.payload, to: videoMovie.end)
        let audioParts = try BoxReader.children(in: audio, from: audioMovie.payload, to: audioMovie.end)
        guard let header = videoParts.first(where: { $0.type == "mvhd" }),
              let videoTrack = videoParts.first(where: { $0.type == "trak" }),
              let audioTrack = audioParts.first(where: { $0.type == "trak" }),
              let videoExtends = videoParts.first(where: { $0.type == "mvex" }),
              let audioExtends = audioParts.first(where: { $0.type == "mvex" }) else {
            throw .malformedFragment("an init segment's moov lacks mvhd, trak or mvex")
        }
        guard try trackID(of: videoTrack, in: video) == 1, try trackID(of: audioTrack, in: audio) == 2 else {
            throw .malformedFragment("the video is not track 1 or the sound not track 2")
        }
        // mvhd's next_track_ID is its last four bytes.
        var movieHeader = Array(video[header.start..<header.end])
        guard movieHeader.count >= 12 else { throw .malformedFragment("short mvhd") }
        movieHeader.replaceSubrange((movieHeader.count - 4)..., with: [0, 0, 0, 3])

        var extends: [UInt8] = []
        for (bytes, box) in [(video, videoExtends), (audio, audioExtends)] {
            for child in try BoxReader.children(in: bytes, from: box.payload, to: box.end) where child.type != "mehd" {
                extends += bytes[child.start..<child.end]
            }
        }
        let others = videoParts.filter { !["mvhd", "trak", "mvex"].contains($0.type) }.flatMap { video[$0.start..<$0.end] }
        let movie = movieHeader + video[videoTrack.start..<videoTrack.end] + audio[audioTrack.start..<audioTrack.end]
            + box("mvex", extends) + others
        var merged: [UInt8] = []
        for part in videoBoxes {
            merged += part.type == "moov" ? box("moov", movie) : Array(video[part.start..<part.end])
        }
        return merged
    }

    /// The `track_ID` in a `trak`'s `tkhd` (after version and flags, and two times of 4 or 8 bytes).
    static func trackID(of track: BoxReader.Box, in bytes: [UInt8]) throws(PackagingError) -> UInt64 {
        let header = try BoxReader.child("tkhd", of: track, in: bytes)
        let version = try BoxReader.read(bytes, in: header, at: 0, count: 1)
        return try BoxReader.read(bytes, in: header, at: version == 1 ? 20 : 12, count: 4)
    }

    static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count + 8)
        return [UInt8(size >> 24), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)] + Array(type.utf8) + payload
    }
}
