import Foundation

/// Moves an fMP4 fragment (`moof`+`mdat`) to another place on a track's
/// timeline by rewriting its `mfhd` sequence number and `tfdt` decode time.
///
/// Segments are encoded per scene, each starting at time 0; joining them
/// seamlessly means setting each fragment's base decode time to where it sits
/// in the whole video. Only those two fields change: no re-encode, no other
/// byte moves.
public enum FragmentRewriter {
    /// Returns `fragment` with every `moof` renumbered from `sequenceNumber` and
    /// its decode time set to `baseDecodeTime`.
    /// - Throws: `PackagingError.malformedFragment` if the boxes are not as expected.
    public static func rewrite(_ fragment: Data, sequenceNumber: UInt32, baseDecodeTime: UInt64) throws(PackagingError) -> Data {
        var bytes = [UInt8](fragment)
        var patchedDecodeTime = false
        var sequence = sequenceNumber
        for box in try BoxReader.children(in: bytes, from: 0, to: bytes.count) where box.type == "moof" {
            try rewriteMovieFragment(&bytes, box, sequence: sequence, decodeTime: baseDecodeTime, patched: &patchedDecodeTime)
            sequence &+= 1
        }
        guard patchedDecodeTime else { throw .malformedFragment("no tfdt box") }
        return Data(bytes)
    }

    private static func rewriteMovieFragment(_ bytes: inout [UInt8], _ moof: BoxReader.Box,
                                             sequence: UInt32, decodeTime: UInt64, patched: inout Bool) throws(PackagingError) {
        for box in try BoxReader.children(in: bytes, from: moof.payload, to: moof.end) {
            switch box.type {
            case "mfhd":
                _ = try BoxReader.read(bytes, in: box, at: 4, count: 4)
                write(UInt64(sequence), bytes: 4, into: &bytes, at: box.payload + 4)
            case "traf":
                for inner in try BoxReader.children(in: bytes, from: box.payload, to: box.end) where inner.type == "tfdt" {
                    let version = try BoxReader.read(bytes, in: inner, at: 0, count: 1)
                    let width = version == 1 ? 8 : 4
                    _ = try BoxReader.read(bytes, in: inner, at: 4, count: width)
                    guard version == 1 || decodeTime <= UInt64(UInt32.max) else {
                        throw .malformedFragment("decode time overflows a version 0 tfdt")
                    }
                    write(decodeTime, bytes: width, into: &bytes, at: inner.payload + 4)
                    patched = true
                }
            default:
                break
            }
        }
    }

    private static func write(_ value: UInt64, bytes count: Int, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<count {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - index)))
        }
    }
}
