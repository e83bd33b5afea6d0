import CFFmpeg
import Foundation

/// Lets libavformat read a file held in memory through a custom AVIOContext
/// (the counterpart of `ByteSink`), with seeking, so probing works.
final class ByteSource {
    private let bytes: Data
    private var position = 0
    let context: UnsafeMutablePointer<AVIOContext>

    init(_ bytes: Data) throws(MediaError) {
        self.bytes = bytes
        let size: Int32 = 1 << 16
        guard let buffer = av_malloc(Int(size))?.assumingMemoryBound(to: UInt8.self) else { throw MediaError("av_malloc") }
        let context = avio_alloc_context(buffer, size, 0, nil, { opaque, data, count in
            guard let opaque, let data, count > 0 else { return cff_averror_eof() }
            let source = Unmanaged<ByteSource>.fromOpaque(opaque).takeUnretainedValue()
            let available = source.bytes.count - source.position
            guard available > 0 else { return cff_averror_eof() }
            let taken = min(Int(count), available)
            source.bytes.withUnsafeBytes { raw in
                data.update(from: raw.baseAddress!.advanced(by: source.position).assumingMemoryBound(to: UInt8.self), count: taken)
            }
            source.position += taken
            return Int32(taken)
        }, nil, { opaque, offset, whence in
            guard let opaque else { return -1 }
            let source = Unmanaged<ByteSource>.fromOpaque(opaque).takeUnretainedValue()
            if whence & AVSEEK_SIZE != 0 { return Int64(source.bytes.count) }
            let base: Int64
            switch whence & ~AVSEEK_FORCE {
            case SEEK_SET: base = 0
            case SEEK_CUR: base = Int64(source.position)
            case SEEK_END: base = Int64(source.bytes.count)
            default: return -1
            }
            let (target, overflow) = base.addingReportingOverflow(offset)
            guard !overflow, target >= 0, target <= Int64(source.bytes.count) else { return -1 }
            source.position = Int(target)
            return target
        })
        guard let context else {
            av_free(buffer)
            throw MediaError("avio_alloc_context")
        }
        self.context = context
        // The opaque pointer refers back to self; it is used only while self is alive.
        context.pointee.opaque = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        var context: UnsafeMutablePointer<AVIOContext>? = context
        av_freep(&context!.pointee.buffer)
        avio_context_free(&context)
    }
}
