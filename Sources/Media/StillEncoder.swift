import CFFmpeg
import Foundation

/// Encodes one RGBA picture as a PNG with libavcodec's PNG encoder: a scene
/// without animations is a still, which Manim saves as a PNG, and so does the farm.
/// Lossless: the file decodes to exactly the pixels Manim drew.
public enum StillEncoder {
    public static func png(rgba: UnsafeRawPointer, width: Int, height: Int, stride: Int) throws(MediaError) -> Data {
        guard (1...16_384).contains(width), (1...16_384).contains(height), stride >= width * 4 else {
            throw MediaError("a still of \(width)x\(height) (stride \(stride))")
        }
        guard let encoder = avcodec_find_encoder(AV_CODEC_ID_PNG) else { throw MediaError("PNG encoder not found") }
        var codec = avcodec_alloc_context3(encoder)
        defer { avcodec_free_context(&codec) }
        guard let context = codec else { throw MediaError("avcodec_alloc_context3(png)") }
        context.pointee.width = Int32(width)
        context.pointee.height = Int32(height)
        context.pointee.pix_fmt = AV_PIX_FMT_RGBA
        context.pointee.time_base = AVRational(num: 1, den: 1)
        context.pointee.thread_count = 1
        try check(avcodec_open2(context, encoder, nil), "avcodec_open2(png)")
        var frame = av_frame_alloc()
        var packet = av_packet_alloc()
        defer {
            av_frame_free(&frame)
            av_packet_free(&packet)
        }
        guard let frame, let packet else { throw MediaError("av_frame_alloc") }
        frame.pointee.format = AV_PIX_FMT_RGBA.rawValue
        frame.pointee.width = Int32(width)
        frame.pointee.height = Int32(height)
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer")
        let lineSize = Int(frame.pointee.linesize.0)
        guard let plane = frame.pointee.data.0 else { throw MediaError("av_frame_get_buffer gave no plane") }
        for row in 0..<height {
            (plane + row * lineSize).update(from: rgba.advanced(by: row * stride).assumingMemoryBound(to: UInt8.self), count: width * 4)
        }
        frame.pointee.pts = 0
        try check(avcodec_send_frame(context, frame), "avcodec_send_frame(png)")
        try check(avcodec_send_frame(context, nil), "avcodec_send_frame(png, flush)")
        var png = Data()
        while true {
            let status = avcodec_receive_packet(context, packet)
            if status == cff_eagain() || status == cff_averror_eof() { break }
            try check(status, "avcodec_receive_packet(png)")
            png.append(packet.pointee.data, count: Int(packet.pointee.size))
            av_packet_unref(packet)
        }
        guard !png.isEmpty else { throw MediaError("the PNG encoder wrote nothing") }
        return png
    }
}
