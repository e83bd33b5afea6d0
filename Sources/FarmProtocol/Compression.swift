import CLZ4
import CZlib
import Foundation

/// LZ4 block compression for protocol frames.
public enum LZ4 {
    /// Compresses `data`; `nil` when the result would not be smaller.
    public static func compress(_ data: Data) -> Data? {
        guard !data.isEmpty, data.count <= Int(LZ4_MAX_INPUT_SIZE) else { return nil }
        let bound = Int(LZ4_compressBound(Int32(data.count)))
        var output = Data(count: bound)
        let written = data.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                LZ4_compress_default(
                    source.baseAddress!.assumingMemoryBound(to: CChar.self),
                    target.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(data.count), Int32(bound))
            }
        }
        guard written > 0, Int(written) < data.count else { return nil }
        output.count = Int(written)
        return output
    }

    /// Decompresses a block that must expand to exactly `originalSize` bytes.
    /// - Throws: `WireError.corruptCompression` for anything else.
    public static func decompress(_ data: Data, originalSize: Int) throws(WireError) -> Data {
        guard originalSize > 0 else { throw .corruptCompression }
        var output = Data(count: originalSize)
        let written = data.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                LZ4_decompress_safe(
                    source.baseAddress?.assumingMemoryBound(to: CChar.self),
                    target.baseAddress!.assumingMemoryBound(to: CChar.self),
                    Int32(data.count), Int32(originalSize))
            }
        }
        guard written == originalSize else { throw .corruptCompression }
        return output
    }
}

/// CRC-32 (zlib's), used to check segment chunks end to end.
public enum Checksum {
    /// The CRC-32 of `data`, continuing from `previous`.
    public static func crc32(_ data: Data, continuing previous: UInt32 = 0) -> UInt32 {
        data.withUnsafeBytes { bytes in
            UInt32(CZlib.crc32(UInt(previous), bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
        }
    }
}
