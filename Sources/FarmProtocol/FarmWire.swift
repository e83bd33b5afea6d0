import Foundation

/// Encodes and decodes `FarmMessage`s as ZeroMQ multipart frames.
///
/// Layout: frame 0 is an 8-byte header — magic `MF`, version, kind, flags and
/// three reserved bytes — frame 1 the JSON body, and frame 2 (chunks: segment bytes; assigns: the script) the
/// raw bytes. A body or blob above `compressionThreshold` that LZ4 shrinks is
/// sent compressed, prefixed with its original size (UInt32, little endian).
public enum FarmWire {
    /// The protocol version this build speaks.
    /// 2: an `assign` carries its script as the raw third frame, not inside the JSON body.
    public static let version: UInt8 = 2
    /// Bodies and blobs at least this large are offered to LZ4.
    public static let compressionThreshold = 4_096
    /// Upper bounds on what a decoder accepts, whatever a frame declares.
    public static let maxBodySize = 32 << 20
    public static let maxBlobSize = 16 << 20

    static let magic: (UInt8, UInt8) = (0x4D, 0x46)
    static let bodyCompressed: UInt8 = 1
    static let blobCompressed: UInt8 = 2

    /// The frames that carry `message`.
    public static func encode(_ message: FarmMessage) -> [Data] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // JSON has no NaN or infinity; written as strings they make the receiver refuse the
        // message (its decoder accepts numbers only) instead of trapping the sender.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let body: Data
        var blob: Data?
        // Encoding our own Codable types cannot fail; a failure here is a programming error.
        switch message {
        case .register(let m): body = try! encoder.encode(m)
        case .heartbeat(let m): body = try! encoder.encode(m)
        case .progress(let m): body = try! encoder.encode(m)
        case .chunk(let m, let bytes): body = try! encoder.encode(m); blob = bytes
        case .result(let m): body = try! encoder.encode(m)
        case .planned(let m): body = try! encoder.encode(m)
        case .joined(let m): body = try! encoder.encode(m)
        case .join(let m): body = try! encoder.encode(m)
        case .mixed(let m): body = try! encoder.encode(m)
        case .mix(let m): body = try! encoder.encode(m)
        case .describeManim(let m): body = try! encoder.encode(m)
        case .manimDescribed(let m): body = try! encoder.encode(m)
        case .failure(let m): body = try! encoder.encode(m)
        case .registered(let m): body = try! encoder.encode(m)
        case .assign(var m):
            // Scripts run to tens of kilobytes: raw bytes, not a JSON string to escape and scan.
            blob = Data(m.script.utf8)
            m.script = ""
            body = try! encoder.encode(m)
        case .cancel(let m): body = try! encoder.encode(m)
        case .resultAck(let m): body = try! encoder.encode(m)
        case .reregister: body = Data("{}".utf8)
        case .refused(let m): body = try! encoder.encode(m)
        }
        var flags: UInt8 = 0
        var frames: [Data] = [Data(), pack(body, flag: bodyCompressed, into: &flags)]
        if let blob { frames.append(pack(blob, flag: blobCompressed, into: &flags)) }
        frames[0] = Data([magic.0, magic.1, version, message.kind.rawValue, flags, 0, 0, 0])
        return frames
    }

    /// Decodes frames received from a peer.
    /// - Throws: `WireError` for anything that is not a well-formed message of
    ///   this version (a `refused` message is readable from any version).
    /// Every decoded message has passed `validate()`: its numbers and strings are within `MessageLimits`.
    public static func decode(_ frames: [Data]) throws(WireError) -> FarmMessage {
        let message = try decodeUnchecked(frames)
        try message.validate()
        return message
    }

    private static func decodeUnchecked(_ frames: [Data]) throws(WireError) -> FarmMessage {
        guard frames.count >= 2, frames.count <= 3, frames[0].count == 8 else { throw .malformedEnvelope }
        let header = [UInt8](frames[0])
        guard header[0] == magic.0, header[1] == magic.1 else { throw .badMagic }
        guard let kind = MessageKind(rawValue: header[3]) else {
            throw header[2] == version ? .unknownKind(header[3]) : .unsupportedVersion(header[2])
        }
        guard header[2] == version || kind == .refused else { throw .unsupportedVersion(header[2]) }
        let flags = header[4]
        let body = try unpack(frames[1], compressed: flags & bodyCompressed != 0, limit: maxBodySize)
        let blob = try frames.count == 3
            ? unpack(frames[2], compressed: flags & blobCompressed != 0, limit: maxBlobSize) : nil
        guard (kind == .chunk || kind == .assign) == (blob != nil) else { throw .malformedEnvelope }

        let decoder = JSONDecoder()
        func decodeBody<T: Decodable>(_ type: T.Type) throws(WireError) -> T {
            do { return try decoder.decode(type, from: body) } catch { throw .invalidBody("\(kind): \(error)") }
        }
        switch kind {
        case .register: return .register(try decodeBody(Register.self))
        case .heartbeat: return .heartbeat(try decodeBody(Heartbeat.self))
        case .progress: return .progress(try decodeBody(RenderProgress.self))
        case .chunk:
            let chunk = try decodeBody(SegmentChunk.self)
            guard let blob else { throw .malformedEnvelope }
            return .chunk(chunk, blob)
        case .result: return .result(try decodeBody(TaskResult.self))
        case .planned: return .planned(try decodeBody(PlanResult.self))
        case .joined: return .joined(try decodeBody(JoinedPart.self))
        case .join: return .join(try decodeBody(JoinPart.self))
        case .mixed: return .mixed(try decodeBody(MixedAudio.self))
        case .mix: return .mix(try decodeBody(MixAudio.self))
        case .describeManim: return .describeManim(try decodeBody(DescribeManim.self))
        case .manimDescribed: return .manimDescribed(try decodeBody(ManimDescription.self))
        case .failure: return .failure(try decodeBody(TaskFailure.self))
        case .registered: return .registered(try decodeBody(Registered.self))
        case .assign:
            var assign = try decodeBody(Assign.self)
            guard let blob, let script = String(data: blob, encoding: .utf8) else { throw .malformedEnvelope }
            assign.script = script
            return .assign(assign)
        case .cancel: return .cancel(try decodeBody(Cancel.self))
        case .resultAck: return .resultAck(try decodeBody(ResultAck.self))
        case .reregister: return .reregister
        case .refused: return .refused(try decodeBody(Refused.self))
        }
    }

    /// The version a header announces, if the frames start with a farm header at all.
    public static func announcedVersion(_ frames: [Data]) -> UInt8? {
        guard let first = frames.first, first.count == 8 else { return nil }
        let header = [UInt8](first)
        guard header[0] == magic.0, header[1] == magic.1 else { return nil }
        return header[2]
    }

    private static func pack(_ data: Data, flag: UInt8, into flags: inout UInt8) -> Data {
        guard data.count >= compressionThreshold, let compressed = LZ4.compress(data) else { return data }
        flags |= flag
        var framed = Data(capacity: compressed.count + 4)
        withUnsafeBytes(of: UInt32(data.count).littleEndian) { framed.append(contentsOf: $0) }
        framed.append(compressed)
        return framed
    }

    private static func unpack(_ frame: Data, compressed: Bool, limit: Int) throws(WireError) -> Data {
        guard compressed else {
            guard frame.count <= limit else { throw .tooLarge(declared: frame.count) }
            return frame
        }
        guard frame.count >= 4 else { throw .malformedEnvelope }
        let bytes = [UInt8](frame.prefix(4))
        let declared = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard declared <= limit else { throw .tooLarge(declared: declared) }
        return try LZ4.decompress(Data(frame.dropFirst(4)), originalSize: declared)
    }
}
