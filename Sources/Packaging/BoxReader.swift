/// Reads ISO BMFF box headers from bytes that came from outside.
///
/// Segments arrive from agents, so every size and offset here is checked
/// before it is used: a box that claims more bytes than its parent holds, a
/// 64-bit size beyond `Int`, or a header cut short is a `malformedFragment`,
/// never a trap.
enum BoxReader {
    struct Box {
        var type: String
        /// Offset of the box's first byte.
        var start: Int
        /// Offset of the first byte of its payload.
        var payload: Int
        /// Offset one past its last byte.
        var end: Int

        var payloadSize: Int { end - payload }
    }

    /// The box starting at `offset`, which must end by `end`.
    static func box(in bytes: [UInt8], at offset: Int, end: Int) throws(PackagingError) -> Box {
        guard offset >= 0, end <= bytes.count, offset <= end, end - offset >= 8 else {
            throw .malformedFragment("truncated box header at \(offset)")
        }
        let declared = read(bytes, at: offset, count: 4)
        let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
        let size: UInt64
        var header = 8
        switch declared {
        case 1:
            guard end - offset >= 16 else { throw .malformedFragment("truncated large box at \(offset)") }
            size = read(bytes, at: offset + 8, count: 8)
            header = 16
        case 0:
            size = UInt64(end - offset)
        default:
            size = declared
        }
        guard size >= UInt64(header), size <= UInt64(end - offset) else {
            throw .malformedFragment("box \(type) overruns its parent")
        }
        return Box(type: type, start: offset, payload: offset + header, end: offset + Int(size))
    }

    /// The boxes directly inside `from..<to`, in order.
    static func children(in bytes: [UInt8], from: Int, to: Int) throws(PackagingError) -> [Box] {
        var boxes: [Box] = []
        var offset = from
        while offset < to {
            let child = try box(in: bytes, at: offset, end: to)
            boxes.append(child)
            offset = child.end
        }
        return boxes
    }

    /// The first child of type `type` directly inside `parent`'s payload, skipping `skip` payload bytes first.
    static func child(_ type: String, of parent: Box, in bytes: [UInt8], skip: Int = 0) throws(PackagingError) -> Box {
        guard parent.payloadSize >= skip else { throw .malformedFragment("short \(parent.type)") }
        guard let found = try children(in: bytes, from: parent.payload + skip, to: parent.end).first(where: { $0.type == type })
        else { throw .malformedFragment("no \(type) in \(parent.type)") }
        return found
    }

    /// A big-endian unsigned integer of `count` bytes (at most 8); the caller checked the bounds.
    static func read(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<count { value = value << 8 | UInt64(bytes[offset + index]) }
        return value
    }

    /// `read` after checking that the bytes lie inside `box`.
    static func read(_ bytes: [UInt8], in box: Box, at offset: Int, count: Int) throws(PackagingError) -> UInt64 {
        guard offset >= 0, count <= box.payloadSize, offset <= box.payloadSize - count else {
            throw .malformedFragment("short \(box.type)")
        }
        return read(bytes, at: box.payload + offset, count: count)
    }
}
