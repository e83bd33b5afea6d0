import CPosix
import Foundation
import Glibc

/// Frames from Manim through shared memory instead of the frame pipe.
///
/// Through a pipe, every 1080p frame (8 MiB) is copied into the kernel by Manim and out again by the agent: about
/// 4 ms of CPU a frame with a 1 MiB pipe, more than drawing it. Here Manim copies each frame once into one of two
/// slots of a sealed shared file and writes only a small `FRSH` record naming the slot down the pipe; the agent
/// encodes straight from the slot and then hands it back with one byte on the acknowledgement socket. Two slots let
/// Manim draw the next frame while the agent encodes this one. Frames larger than a slot go down the pipe as before.
///
/// The script's process can write into the slots at any time: it can only spoil its own frames. It cannot resize
/// the file (sealed), and acknowledgements never block the agent (a full or closed socket drops them).
final class FrameRing: @unchecked Sendable {
    static let slots = 2
    let slotBytes: Int
    private let base: UnsafeMutableRawPointer
    private let acks: Int32
    /// Handed to Manim's process, then closed here (`handedOver`): the shared file and its end of the socket.
    private(set) var childDescriptors: [Int32]

    struct RingError: Error, CustomStringConvertible {
        var description: String
    }

    /// A ring whose slots hold frames of up to `slotBytes` bytes.
    init(slotBytes: Int) throws {
        let (total, overflow) = slotBytes.multipliedReportingOverflow(by: Self.slots)
        guard slotBytes > 0, !overflow else { throw RingError(description: "a frame ring of \(slotBytes)-byte slots") }
        let memory = farm_sealed_memory(total)
        guard memory >= 0 else { throw RingError(description: "memfd_create: \(String(cString: strerror(errno)))") }
        guard let mapped = mmap(nil, total, PROT_READ, MAP_SHARED, memory, 0), mapped != MAP_FAILED else {
            close(memory)
            throw RingError(description: "mmap: \(String(cString: strerror(errno)))")
        }
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            munmap(mapped, total)
            close(memory)
            throw RingError(description: "socketpair: \(String(cString: strerror(errno)))")
        }
        self.slotBytes = slotBytes
        base = mapped
        acks = pair[0]
        childDescriptors = [memory, pair[1]]
    }

    /// Slots for frames of a render of `height` lines, up to twice as wide as high (Manim's 16:9 and more).
    convenience init(forHeight height: Int) throws {
        let (bytes, overflow) = height.multipliedReportingOverflow(by: height * 2 * 4)
        guard height > 0, height <= FrameStream.maxSide, !overflow else { throw RingError(description: "a frame ring for \(height) lines") }
        try self.init(slotBytes: min(bytes, FrameStream.maxFrameBytes))
    }

    /// Closes this process's copies of what Manim's process now holds.
    func handedOver() {
        for fd in childDescriptors { close(fd) }
        childDescriptors = []
    }

    /// The frame Manim put in `slot`: `bytes` long, checked against the slot's size.
    func pixels(slot: Int, bytes: Int) throws -> UnsafeRawPointer {
        guard (0..<Self.slots).contains(slot), (1...slotBytes).contains(bytes) else {
            throw RingError(description: "a frame of \(bytes) bytes in slot \(slot) of \(Self.slots) slots of \(slotBytes) bytes")
        }
        return UnsafeRawPointer(base + slot * slotBytes)
    }

    /// Hands a slot back to Manim.
    func release(_ slot: Int) {
        var byte = UInt8(truncatingIfNeeded: slot)
        _ = send(acks, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
    }

    deinit {
        munmap(base, slotBytes * Self.slots)
        close(acks)
        for fd in childDescriptors { close(fd) }
    }
}
