import Foundation

/// Adds an edit list to a fragmented MP4 init segment's only track, so players
/// skip the encoder's priming samples (AAC starts with 1024 of them) and the
/// first decoded sample they play is the track's first. The movie and track
/// timelines then agree with the video's: a sound at 0 s plays at 0 s.
///
/// The init segment is libavformat's own (an `ftyp` and a `moov` with one
/// `trak`), so this is a small splice, but every size is still checked: bytes
/// that are not as expected are an error, never a trap.
enum PrimingEditList {
    static func insert(into initSegment: Data, priming: Int) throws(MediaError) -> Data {
        guard priming > 0 else { return initSegment }
        guard priming <= Int(UInt32.max) else { throw MediaError("a priming of \(priming) samples") }
        var bytes = [UInt8](initSegment)
        guard let movie = box("moov", in: bytes, from: 0, to: bytes.count),
              let track = box("trak", in: bytes, from: movie.start + 8, to: movie.end),
              let header = box("tkhd", in: bytes, from: track.start + 8, to: track.end),
              box("edts", in: bytes, from: track.start + 8, to: track.end) == nil else {
            throw MediaError("an init segment without one trak and tkhd, or with an edit list already")
        }
        // edts { elst v0: one entry, segment_duration 0 (the whole track, as fragments add to it), media_time, rate 1.0 }
        let list = Self.box("elst", [0, 0, 0, 0] + be32(1) + be32(0) + be32(UInt32(priming)) + [0, 1, 0, 0])
        let edits = Self.box("edts", list)
        bytes.insert(contentsOf: edits, at: header.end)
        try grow(&bytes, at: track.start, by: edits.count)
        try grow(&bytes, at: movie.start, by: edits.count)
        return Data(bytes)
    }

    private static func box(_ type: String, in bytes: [UInt8], from: Int, to: Int) -> (start: Int, end: Int)? {
        var offset = from
        while offset + 8 <= to {
            let size = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard size >= 8, size <= to - offset else { return nil }
            if String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self) == type { return (offset, offset + size) }
            offset += size
        }
        return nil
    }

    private static func grow(_ bytes: inout [UInt8], at offset: Int, by count: Int) throws(MediaError) {
        let size = UInt64(bytes[offset]) << 24 | UInt64(bytes[offset + 1]) << 16 | UInt64(bytes[offset + 2]) << 8 | UInt64(bytes[offset + 3])
        guard size + UInt64(count) <= UInt64(UInt32.max) else { throw MediaError("an init segment over 4 GiB") }
        bytes.replaceSubrange(offset..<(offset + 4), with: be32(UInt32(size) + UInt32(count)))
    }

    private static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        be32(UInt32(payload.count + 8)) + Array(type.utf8) + payload
    }

    private static func be32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
