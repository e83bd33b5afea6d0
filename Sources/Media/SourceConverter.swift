import CFFmpeg
import CPixels

/// Converts Manim's RGBA frames to YUV 4:2:0 at the source size, once per
/// frame for the whole ladder (every rendition scales from this picture).
/// `farm_rgba_to_yuv420p` does it, not libswscale: libswscale 5.1 has no SIMD path
/// for this pair of formats and took 6.7 ms of CPU per 1080p frame.
///
/// Not thread-safe: the encoding thread converts; renditions only read the
/// result until the next conversion.
final class SourceConverter {
    private var frame: UnsafeMutablePointer<AVFrame>?
    private let width: Int32
    private let height: Int32

    init(width: Int32, height: Int32) throws(MediaError) {
        self.width = width
        self.height = height
        guard let frame = av_frame_alloc() else { throw MediaError("av_frame_alloc") }
        self.frame = frame
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = width
        frame.pointee.height = height
        frame.pointee.color_range = AVCOL_RANGE_MPEG
        frame.pointee.colorspace = AVCOL_SPC_BT709
        frame.pointee.color_primaries = AVCOL_PRI_BT709
        frame.pointee.color_trc = AVCOL_TRC_BT709
        guard av_frame_get_buffer(frame, 0) >= 0 else {
            av_frame_free(&self.frame)
            throw MediaError("av_frame_get_buffer")
        }
    }

    deinit {
        av_frame_free(&frame)
    }

    /// Converts a top-left RGBA frame; the returned picture stays valid until the next call.
    func convert(rgba: UnsafeRawPointer, stride: Int32) throws(MediaError) -> UnsafeMutablePointer<AVFrame> {
        guard let frame else { throw MediaError("converter released") }
        // An encoder may still reference the previous picture: then this allocates a fresh one.
        try check(av_frame_make_writable(frame), "av_frame_make_writable")
        // Full-range RGB in, limited-range BT.709 out, matching what the streams declare.
        let data = frame.pointee.data, linesize = frame.pointee.linesize
        farm_rgba_to_yuv420p(rgba.assumingMemoryBound(to: UInt8.self), Int(stride), width, height,
                             data.0, Int(linesize.0), data.1, Int(linesize.1), data.2, Int(linesize.2))
        return frame
    }
}
