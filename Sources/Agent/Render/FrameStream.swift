import FarmProtocol
import Foundation

/// Reads the shim's frame stream (see `farm_shim.py`) from a pipe.
final class FrameStream {
    struct Header: Equatable {
        var width: Int
        var height: Int
        var repeatCount: Int
        var frameRate: Double
    }

    enum Item {
        /// A frame; `pixels` is reused by the next call.
        case frame(Header, Data)
        /// A frame in a slot of the shared frame ring (`FrameRing`); the slot is the agent's until it hands it back.
        case sharedFrame(Header, slot: Int)
        /// A planning pass's description of one scene (JSON).
        case plan(Data)
        /// A scene without animations: its one frame, `width`×`height` RGBA (Manim would save it as a PNG).
        case still(width: Int, height: Int, frameRate: Double, Data)
        /// The script's process's account of where its time went (JSON, `ManimStages`).
        case stats(Data)
        /// The shim reported the end of the scene.
        case done
        /// The pipe closed without `DONE`.
        case end
    }

    struct StreamError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Frames larger than 8K RGBA are refused rather than allocated.
    static let maxFrameBytes = 7_680 * 4_320 * 4
    static let maxSide = 16_384

    private let fd: Int32
    private var pixels = Data()

    init(fd: Int32) {
        self.fd = fd
    }

    func next() throws -> Item {
        var magic = [UInt8](repeating: 0, count: 4)
        guard ChildProcess.readFully(fd, into: &magic, count: 4) else { return .end }
        switch String(decoding: magic, as: UTF8.self) {
        case "FRSH":
            var raw = [UInt8](repeating: 0, count: 24)
            guard ChildProcess.readFully(fd, into: &raw, count: 24) else { throw StreamError("truncated frame header") }
            return .sharedFrame(try Self.header(raw), slot: Int(Self.uint32(raw, 20)))
        case "FRAM":
            var raw = [UInt8](repeating: 0, count: 20)
            guard ChildProcess.readFully(fd, into: &raw, count: 20) else { throw StreamError("truncated frame header") }
            let header = try Self.header(raw)
            let size = header.width * header.height * 4
            if pixels.count != size { pixels = Data(count: size) }
            let complete = pixels.withUnsafeMutableBytes { ChildProcess.readFully(fd, into: $0.baseAddress!, count: size) }
            guard complete else { throw StreamError("truncated frame") }
            return .frame(header, pixels)
        case "STIL":
            var raw = [UInt8](repeating: 0, count: 16)
            guard ChildProcess.readFully(fd, into: &raw, count: 16) else { throw StreamError("truncated still header") }
            let (width, height) = (Int(Self.uint32(raw, 0)), Int(Self.uint32(raw, 4)))
            let frameRate = Double(bitPattern: Self.uint64(raw, 8))
            guard (1...Self.maxSide).contains(width), (1...Self.maxSide).contains(height),
                  width * height * 4 <= Self.maxFrameBytes, frameRate.isFinite else {
                throw StreamError("invalid still header \(width)x\(height) at \(frameRate) fps")
            }
            var still = Data(count: width * height * 4)
            let complete = still.withUnsafeMutableBytes { ChildProcess.readFully(fd, into: $0.baseAddress!, count: $0.count) }
            guard complete else { throw StreamError("truncated still") }
            return .still(width: width, height: height, frameRate: frameRate, still)
        case "PLAN":
            // A plan may carry the narration its pass spoke (base64, at most `AssetFile.maxTotalBytes` of it).
            return .plan(try body(limit: 24 << 20, of: "plan"))
        case "STAT":
            return .stats(try body(limit: 64 << 10, of: "stats"))
        case "DONE":
            var raw = [UInt8](repeating: 0, count: 4)
            _ = ChildProcess.readFully(fd, into: &raw, count: 4)
            return .done
        default:
            throw StreamError("unexpected bytes in the frame stream")
        }
    }

    /// A record's length-prefixed body, refused above `limit` bytes.
    private func body(limit: Int, of record: String) throws -> Data {
        var raw = [UInt8](repeating: 0, count: 4)
        guard ChildProcess.readFully(fd, into: &raw, count: 4) else { throw StreamError("truncated \(record)") }
        let size = Int(Self.uint32(raw, 0))
        guard size <= limit else { throw StreamError("\(record) of \(size) bytes") }
        var body = Data(count: size)
        let complete = size == 0 || body.withUnsafeMutableBytes { ChildProcess.readFully(fd, into: $0.baseAddress!, count: size) }
        guard complete else { throw StreamError("truncated \(record)") }
        return body
    }

    /// A frame's header, checked: each side before the product is formed, so a forged header cannot overflow it.
    private static func header(_ raw: [UInt8]) throws -> Header {
        let header = Header(
            width: Int(uint32(raw, 0)), height: Int(uint32(raw, 4)), repeatCount: Int(uint32(raw, 8)),
            frameRate: Double(bitPattern: uint64(raw, 12)))
        guard (1...maxSide).contains(header.width), (1...maxSide).contains(header.height),
              header.width * header.height * 4 <= maxFrameBytes,
              (1...MessageLimits.maxFrames).contains(header.repeatCount), header.frameRate.isFinite else {
            throw StreamError("invalid frame header \(header)")
        }
        return header
    }

    /// Reads and drops whatever is left, until the writer closes the pipe.
    func discardRest() {
        var sink = [UInt8](repeating: 0, count: 1 << 16)
        while read(fd, &sink, sink.count) > 0 {}
    }

    private static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * UInt32($1)) }
    }

    private static func uint64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
