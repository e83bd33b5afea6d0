import CFFmpeg

/// Converts Manim's RGBA frames to YUV 4:2:0 at the source size, once per
/// frame for the whole ladder (every rendition scales from this picture).
///
/// Not thread-safe: the encoding thread converts; renditions only read the
/// result until the next conversion.
final class SourceConverter {
    private var frame: UnsafeMutablePointer<AVFrame>?
    private let scaler: OpaquePointer
    private let height: Int32

    init(width: Int32, height: Int32) throws(MediaError) {
        guard let scaler = sws_getContext(width, height, AV_PIX_FMT_RGBA, width, height, AV_PIX_FMT_YUV420P,
                                          SWS_BICUBIC, nil, nil, nil) else {
            throw MediaError("sws_getContext RGBA \(width)x\(height) -> YUV 4:2:0")
        }
        self.scaler = scaler
        self.height = height
        // Full-range RGB in, limited-range BT.709 out, matching what the streams declare.
        _ = sws_setColorspaceDetails(scaler, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                     sws_getCoefficients(SWS_CS_ITU709), 0, 0, 1 << 16, 1 << 16)
        guard let frame = av_frame_alloc() else {
            sws_freeContext(scaler)
            throw MediaError("av_frame_alloc")
        }
        self.frame = frame
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = width
        frame.pointee.height = height
        frame.pointee.color_range = AVCOL_RANGE_MPEG
        frame.pointee.colorspace = AVCOL_SPC_BT709
        frame.pointee.color_primaries = AVCOL_PRI_BT709
        frame.pointee.color_trc = AVCOL_TRC_BT709
        guard av_frame_get_buffer(frame, 0) >= 0 else {
            sws_freeContext(scaler)
            av_frame_free(&self.frame)
            throw MediaError("av_frame_get_buffer")
        }
    }

    deinit {
        sws_freeContext(scaler)
        av_frame_free(&frame)
    }

    /// Converts a top-left RGBA frame; the returned picture stays valid until the next call.
    func convert(rgba: UnsafeRawPointer, stride: Int32) throws(MediaError) -> UnsafeMutablePointer<AVFrame> {
        guard let frame else { throw MediaError("converter released") }
        // An encoder may still reference the previous picture: then this allocates a fresh one.
        try check(av_frame_make_writable(frame), "av_frame_make_writable")
        var sourcePlanes: [UnsafePointer<UInt8>?] = [rgba.assumingMemoryBound(to: UInt8.self), nil, nil, nil]
        var sourceStrides: [Int32] = [stride, 0, 0, 0]
        let rows = withUnsafeMutablePointer(to: &frame.pointee.data) { data in
            withUnsafeMutablePointer(to: &frame.pointee.linesize) { linesize in
                data.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { planes in
                    linesize.withMemoryRebound(to: Int32.self, capacity: 8) { strides in
                        sws_scale(scaler, &sourcePlanes, &sourceStrides, 0, height, planes, strides)
                    }
                }
            }
        }
        guard rows == height else { throw MediaError("sws_scale produced \(rows) rows, expected \(height)") }
        return frame
    }
}
