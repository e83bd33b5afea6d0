import Foundation

/// Reads what an uploaded CMAF file really holds, so the coordinator trusts
/// the bytes rather than what the agent says about them.
///
/// The master playlist's CODECS attribute comes from the SPS parsed here,
/// never from an agent's string; a media segment's frame count is the sum of
/// its `trun` sample counts.
public enum SegmentInspector {
    /// What an H.264 init segment declares.
    public struct InitInfo: Equatable, Sendable {
        /// RFC 6381 codec string from the SPS: `avc1.PPCCLL`.
        public var codecs: String
        public var width: Int
        public var height: Int
        /// Ticks per second of the track.
        public var timescale: Int
    }

    /// Parses `ftyp`/`moov` down to the `avc1` sample entry and its SPS.
    public static func initSegment(_ data: Data) throws(PackagingError) -> InitInfo {
        let bytes = [UInt8](data)
        let (_, timescale, stsd) = try onlyTrack(bytes)
        // stsd is a full box with an entry count; avc1 is a visual sample entry of 78 bytes before its children.
        let avc1 = try BoxReader.child("avc1", of: stsd, in: bytes, skip: 8)
        let width = try BoxReader.read(bytes, in: avc1, at: 24, count: 2)
        let height = try BoxReader.read(bytes, in: avc1, at: 26, count: 2)
        let avcC = try BoxReader.child("avcC", of: avc1, in: bytes, skip: 78)
        let spsCount = try BoxReader.read(bytes, in: avcC, at: 5, count: 1) & 0x1F
        let spsLength = try BoxReader.read(bytes, in: avcC, at: 6, count: 2)
        guard spsCount >= 1, spsLength >= 4 else { throw .malformedFragment("avcC holds no SPS") }
        let nalHeader = try BoxReader.read(bytes, in: avcC, at: 8, count: 1)
        guard nalHeader & 0x1F == 7 else { throw .malformedFragment("avcC's first parameter set is not an SPS") }
        let profile = try BoxReader.read(bytes, in: avcC, at: 9, count: 1)
        let constraints = try BoxReader.read(bytes, in: avcC, at: 10, count: 1)
        let level = try BoxReader.read(bytes, in: avcC, at: 11, count: 1)
        guard timescale > 0, width > 0, height > 0 else { throw .malformedFragment("init segment declares a zero size or timescale") }
        return InitInfo(codecs: String(format: "avc1.%02x%02x%02x", profile, constraints, level),
                        width: Int(width), height: Int(height), timescale: Int(timescale))
    }

    /// Frames (samples) of a media segment made of `moof`+`mdat` pairs, each
    /// `moof` with `mfhd` and a `traf` holding `tfdt` and `trun`.
    public static func sampleCount(ofFragment data: Data) throws(PackagingError) -> Int {
        let bytes = [UInt8](data)
        var samples = 0
        var fragments = 0
        var awaitingData = false
        for box in try BoxReader.children(in: bytes, from: 0, to: bytes.count) {
            switch box.type {
            case "moof":
                guard !awaitingData else { throw .malformedFragment("moof without its mdat") }
                let children = try BoxReader.children(in: bytes, from: box.payload, to: box.end)
                guard children.contains(where: { $0.type == "mfhd" }) else { throw .malformedFragment("moof without mfhd") }
                let traf = try BoxReader.child("traf", of: box, in: bytes)
                let trafChildren = try BoxReader.children(in: bytes, from: traf.payload, to: traf.end)
                guard trafChildren.contains(where: { $0.type == "tfdt" }) else { throw .malformedFragment("traf without tfdt") }
                let runs = trafChildren.filter { $0.type == "trun" }
                guard !runs.isEmpty else { throw .malformedFragment("traf without trun") }
                for run in runs {
                    // Bounded by the segment's size limit: at most one sample per 4 bytes.
                    samples += Int(try BoxReader.read(bytes, in: run, at: 4, count: 4))
                }
                fragments += 1
                awaitingData = true
            case "mdat":
                guard awaitingData else { throw .malformedFragment("mdat before its moof") }
                awaitingData = false
            case "styp", "sidx", "free", "skip":
                break
            default:
                throw .malformedFragment("unexpected \(box.type) box in a media segment")
            }
        }
        guard fragments > 0, !awaitingData else { throw .malformedFragment("no complete moof+mdat fragment") }
        return samples
    }

    /// Checks that an init segment is the farm's sound track: track 2, AAC (`mp4a`) at 48 kHz.
    public static func soundInit(_ data: Data) throws(PackagingError) {
        let bytes = [UInt8](data)
        let (trak, timescale, stsd) = try onlyTrack(bytes)
        guard try InitSegmentMerger.trackID(of: trak, in: bytes) == 2 else { throw .malformedFragment("the sound is not track 2") }
        _ = try BoxReader.child("mp4a", of: stsd, in: bytes, skip: 8)
        guard timescale == 48_000 else { throw .malformedFragment("a sound track at \(timescale) Hz, not 48000") }
    }

    /// An init segment's (first) track, its timescale (`mdhd`) and its sample descriptions (`stsd`).
    private static func onlyTrack(_ bytes: [UInt8]) throws(PackagingError) -> (trak: BoxReader.Box, timescale: UInt64, stsd: BoxReader.Box) {
        let top = try BoxReader.children(in: bytes, from: 0, to: bytes.count)
        guard let moov = top.first(where: { $0.type == "moov" }) else { throw .malformedFragment("no moov box") }
        let trak = try BoxReader.child("trak", of: moov, in: bytes)
        let mdia = try BoxReader.child("mdia", of: trak, in: bytes)
        let mdhd = try BoxReader.child("mdhd", of: mdia, in: bytes)
        let mdhdVersion = try BoxReader.read(bytes, in: mdhd, at: 0, count: 1)
        let timescale = try BoxReader.read(bytes, in: mdhd, at: mdhdVersion == 1 ? 20 : 12, count: 4)
        let minf = try BoxReader.child("minf", of: mdia, in: bytes)
        let stbl = try BoxReader.child("stbl", of: minf, in: bytes)
        return (trak, timescale, try BoxReader.child("stsd", of: stbl, in: bytes))
    }
}
