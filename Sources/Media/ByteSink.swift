import CFFmpeg
import Foundation

/// Collects what libavformat writes through a custom AVIOContext, so segments
/// stay in memory instead of touching the filesystem.
final class ByteSink {
    private(set) var bytes = Data()
    let context: UnsafeMutablePointer<AVIOContext>

    init() throws(MediaError) {
        let size: Int32 = 1 << 16
        guard let buffer = av_malloc(Int(size))?.assumingMemoryBound(to: UInt8.self) else {
            throw MediaError("av_malloc")
        }
        let context = avio_alloc_context(buffer, size, 1, nil, nil, { opaque, data, count in
            guard let opaque, let data, count > 0 else { return 0 }
            let sink = Unmanaged<ByteSink>.fromOpaque(opaque).takeUnretainedValue()
            sink.bytes.append(data, count: Int(count))
            return count
        }, nil)
        guard let context else {
            av_free(buffer)
            throw MediaError("avio_alloc_context")
        }
        self.context = context
        // The opaque pointer refers back to self; it is used only while self is alive.
        context.pointee.opaque = Unmanaged.passUnretained(self).toOpaque()
    }

    /// Flushes libavformat's buffer and returns everything written since the last call.
    func take() -> Data {
        avio_flush(context)
        defer { bytes = Data() }
        return bytes
    }

    deinit {
        var context: UnsafeMutablePointer<AVIOContext>? = context
        av_freep(&context!.pointee.buffer)
        avio_context_free(&context)
    }
}
