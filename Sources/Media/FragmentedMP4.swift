import CFFmpeg
import Foundation

/// The in-memory fragmented MP4 (CMAF) writer both encoders use: one stream,
/// an empty `moov` first (the init segment), then a fragment (`moof`+`mdat`)
/// wherever the caller cuts one (`frag_custom`), nothing on disk.
enum FragmentedMP4 {
    /// Opens a muxer into `format` for `codec`'s stream at `timescale`, writing to `sink`, and writes the
    /// header (left in `sink`). `format` is set before anything can fail after allocation, so the caller's
    /// `close` frees it either way.
    static func open(_ format: inout UnsafeMutablePointer<AVFormatContext>?, codec: UnsafeMutablePointer<AVCodecContext>?,
                     sink: ByteSink, timescale: Int32, trackID: Int32 = 1, options extra: [String: String] = [:]) throws(MediaError) {
        try check(avformat_alloc_output_context2(&format, nil, "mp4", nil), "avformat_alloc_output_context2")
        guard let context = format else { throw MediaError("avformat_alloc_output_context2") }
        context.pointee.pb = sink.context
        context.pointee.flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT
        guard let stream = avformat_new_stream(context, nil) else { throw MediaError("avformat_new_stream") }
        try check(avcodec_parameters_from_context(stream.pointee.codecpar, codec), "avcodec_parameters_from_context")
        stream.pointee.time_base = AVRational(num: 1, den: timescale)
        stream.pointee.id = trackID
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "movflags", "empty_moov+default_base_moof+frag_custom", 0)
        // A sound track is numbered 2, so it can sit beside a video's track 1 in one MP4 without renumbering.
        av_dict_set(&options, "use_stream_ids_as_track_ids", "1", 0)
        for (key, value) in extra { av_dict_set(&options, key, value, 0) }
        try check(avformat_write_header(context, &options), "avformat_write_header")
    }

    /// Frees a muxer `open` made (the sink's AVIO context is the sink's to free).
    static func close(_ format: inout UnsafeMutablePointer<AVFormatContext>?) {
        guard format != nil else { return }
        format?.pointee.pb = nil
        avformat_free_context(format)
        format = nil
    }
}
