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
        var offset = 0
        while offset < bytes.count {
            let (type, size, header) = try box(in: bytes, at: offset, end: bytes.count)
            if type == "moof" {
                try rewriteMovieFragment(&bytes, from: offset + header, to: offset + size,
                                         sequence: sequence, decodeTime: baseDecodeTime, patched: &patchedDecodeTime)
                sequence &+= 1
            }
            offset += size
        }
        guard patchedDecodeTime else { throw .malformedFragment("no tfdt box") }
        return Data(bytes)
    }

    private static func rewriteMovieFragment(_ bytes: inout [UInt8], from start: Int, to end: Int,
                                             sequence: UInt32, decodeTime: UInt64, patched: inout Bool) throws(PackagingError) {
        var offset = start
        while offset < end {
            let (type, size, header) = try box(in: bytes, at: offset, end: end)
            switch type {
            case "mfhd":
                guard size >= header + 8 else { throw .malformedFragment("short mfhd") }
                write(UInt64(sequence), bytes: 4, into: &bytes, at: offset + header + 4)
            case "traf":
                var inner = offset + header
                while inner < offset + size {
                    let (innerType, innerSize, innerHeader) = try box(in: bytes, at: inner, end: offset + size)
                    if innerType == "tfdt" {
                        let version = bytes[inner + innerHeader]
                        let width = version == 1 ? 8 : 4
                        guard innerSize >= innerHeader + 4 + width else { throw .malformedFragment("short tfdt") }
                        guard version == 1 || decodeTime <= UInt64(UInt32.max) else {
                            throw .malformedFragment("decode time overflows a version 0 tfdt")
                        }
                        write(decodeTime, bytes: width, into: &bytes, at: inner + innerHeader + 4)
                        patched = true
                    }
                    inner += innerSize
                }
            default:
                break
            }
            offset += size
        }
    }

    /// Reads a box header: type, total size and header length.
    static func box(in bytes: [UInt8], at offset: Int, end: Int) throws(PackagingError) -> (String, Int, Int) {
        guard offset + 8 <= end else { throw .malformedFragment("truncated box header at \(offset)") }
        var size = Int(read(bytes, at: offset, count: 4))
        let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
        var header = 8
        if size == 1 {
            guard offset + 16 <= end else { throw .malformedFragment("truncated large box at \(offset)") }
            size = Int(read(bytes, at: offset + 8, count: 8))
            header = 16
        } else if size == 0 {
            size = end - offset
        }
        guard size >= header, offset + size <= end else { throw .malformedFragment("box \(type) overruns its parent") }
        return (type, size, header)
    }

    static func read(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<count { value = value << 8 | UInt64(bytes[offset + index]) }
        return value
    }

    private static func write(_ value: UInt64, bytes count: Int, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<count {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - index)))
        }
    }
}
