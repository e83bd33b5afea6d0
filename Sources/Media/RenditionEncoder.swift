import CFFmpeg
import Foundation

/// Encodes source frames (already YUV 4:2:0 at the source size) into one
/// rendition: scale with libswscale unless it is the source size, H.264 with
/// libx264, fragmented MP4 (CMAF) with libavformat.
///
/// GOPs are closed, IDRs fall every `keyframeInterval` frames counted from the
/// first frame, there are no B-frames (decode time equals presentation time, so
/// a segment moves to another place on the timeline by rewriting its `tfdt`),
/// and a segment is cut at every `segmentFrames`-th frame. Every rendition of a
/// plan therefore has its IDRs and segment boundaries on the same frames.
///
/// Not thread-safe: one encoding thread owns an encoder.
final class RenditionEncoder {
    let width: Int32
    let height: Int32
    let timescale: Int32
    private let keyframeInterval: Int64
    private let segmentFrames: Int64
    private let ticksPerFrame: Int64
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var scaler: OpaquePointer?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private let sink: ByteSink
    private var nextPTS: Int64 = 0
    private var segmentIndex = 0
    private var framesInSegment = 0
    private let emit: (_ segment: Int?, _ frames: Int, _ data: Data) -> Void
    /// RFC 6381 codec string of the stream, for example `avc1.64001e`.
    private(set) var codecs = "avc1"
    /// CPU seconds this rendition's thread spent scaling, and encoding and muxing.
    private(set) var scaleCPU = 0.0
    private(set) var encodeCPU = 0.0
    /// Where this rendition's source picture comes from when it is scaled from a larger rendition.
    private let upstream: PictureHandoff?
    /// Where this rendition hands its scaled picture to a smaller one, if one scales from it.
    var downstream: PictureHandoff?

    init(sourceWidth: Int32, sourceHeight: Int32, width: Int32, height: Int32, frameRate: Int32,
         crf: Int, preset: String, keyframeInterval: Int64, segmentFrames: Int64, upstream: PictureHandoff? = nil,
         emit: @escaping (_ segment: Int?, _ frames: Int, _ data: Data) -> Void) throws(MediaError) {
        self.width = width
        self.height = height
        self.keyframeInterval = keyframeInterval
        self.segmentFrames = segmentFrames
        self.timescale = 90_000 % frameRate == 0 ? 90_000 : frameRate * 1_000
        self.ticksPerFrame = Int64(timescale / frameRate)
        self.emit = emit
        self.upstream = upstream
        sink = try ByteSink()
        do {
            try openEncoder(frameRate: frameRate, crf: crf, preset: preset)
            try openMuxer()
            if sourceWidth != width || sourceHeight != height {
                try openScaler(sourceWidth: sourceWidth, sourceHeight: sourceHeight)
            }
        } catch {
            release()
            throw error
        }
    }

    deinit {
        release()
    }

    /// Encodes one source frame `repeatCount` times (a still stretch of a scene).
    /// `source` is only read; other renditions read it at the same time. A rendition scaled from a larger one reads
    /// that one's picture instead, handed over for this frame.
    func encode(source: UnsafeMutablePointer<AVFrame>, repeatCount: Int) throws(MediaError) {
        // Exactly one take and one publish per frame, whatever fails, so neither side of a handoff waits for ever.
        let input: UnsafeMutablePointer<AVFrame>? = if let upstream { upstream.take() } else { source }
        defer { upstream?.release() }
        var handedOn = false
        defer { if !handedOn { downstream?.publish(nil) } }
        guard let frame else { throw MediaError("encoder already finished") }
        guard let input else { throw MediaError("the rendition this one is scaled from failed") }
        let started = ThreadClock.cpuSeconds()
        if let scaler {
            // The encoder may still hold a reference to the previous picture.
            try check(av_frame_make_writable(frame), "av_frame_make_writable")
            let scaled = sws_scale_frame(scaler, frame, input)
            guard scaled >= 0 else { throw MediaError("sws_scale_frame failed (\(scaled))") }
            scaleCPU += ThreadClock.cpuSeconds() - started
            downstream?.publish(frame)
            handedOn = true
        } else {
            // Same size as the source: encode the shared picture itself (reference counted, no copy).
            av_frame_unref(frame)
            try check(av_frame_ref(frame, input), "av_frame_ref")
        }
        let encoding = ThreadClock.cpuSeconds()
        defer { encodeCPU += ThreadClock.cpuSeconds() - encoding }
        for _ in 0..<max(repeatCount, 1) {
            frame.pointee.pts = nextPTS
            frame.pointee.pict_type = nextPTS % keyframeInterval == 0 ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE
            nextPTS += 1
            try check(avcodec_send_frame(codec, frame), "avcodec_send_frame")
            try drainPackets()
        }
    }

    /// Flushes the encoder and emits the last segment.
    func finish() throws(MediaError) {
        guard frame != nil else { return }
        let started = ThreadClock.cpuSeconds()
        defer { encodeCPU += ThreadClock.cpuSeconds() - started }
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame(flush)")
        try drainPackets()
        try cutSegment()
        try check(av_write_trailer(format), "av_write_trailer")
        _ = sink.take()  // the trailer's `mfra` is not part of any segment
        release()
    }

    /// Whether this rendition scales its input (it is not the source's size).
    var isScaled: Bool { scaler != nil }

    /// Frames encoded so far.
    var framesEncoded: Int64 { nextPTS }

    private func openEncoder(frameRate: Int32, crf: Int, preset: String) throws(MediaError) {
        guard let encoder = avcodec_find_encoder_by_name("libx264") else { throw MediaError("libx264 encoder not found") }
        guard let codec = avcodec_alloc_context3(encoder) else { throw MediaError("avcodec_alloc_context3") }
        self.codec = codec
        codec.pointee.width = width
        codec.pointee.height = height
        codec.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        codec.pointee.time_base = AVRational(num: 1, den: frameRate)
        codec.pointee.framerate = AVRational(num: frameRate, den: 1)
        codec.pointee.gop_size = Int32(keyframeInterval)
        codec.pointee.keyint_min = Int32(keyframeInterval)
        codec.pointee.max_b_frames = 0
        codec.pointee.thread_count = 1
        codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER | Int32(bitPattern: AV_CODEC_FLAG_CLOSED_GOP)
        codec.pointee.colorspace = AVCOL_SPC_BT709
        codec.pointee.color_primaries = AVCOL_PRI_BT709
        codec.pointee.color_trc = AVCOL_TRC_BT709
        codec.pointee.color_range = AVCOL_RANGE_MPEG
        var options: OpaquePointer?
        defer { av_dict_free(&options) }
        av_dict_set(&options, "preset", preset, 0)
        av_dict_set(&options, "crf", String(crf), 0)
        av_dict_set(&options, "profile", "high", 0)
        av_dict_set(&options, "forced-idr", "1", 0)
        av_dict_set(&options, "x264-params", "scenecut=0:open-gop=0:bframes=0", 0)
        try check(avcodec_open2(codec, encoder, &options), "avcodec_open2(libx264)")
        codecs = Self.codecString(extradata: codec.pointee.extradata, size: Int(codec.pointee.extradata_size))
        guard let frame = av_frame_alloc(), let packet = av_packet_alloc() else { throw MediaError("av_frame_alloc") }
        self.frame = frame
        self.packet = packet
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = width
        frame.pointee.height = height
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer")
    }

    private func openMuxer() throws(MediaError) {
        try FragmentedMP4.open(&format, codec: codec, sink: sink, timescale: timescale,
                               options: ["video_track_timescale": String(timescale)])
        emit(nil, 0, sink.take())
    }

    private func openScaler(sourceWidth: Int32, sourceHeight: Int32) throws(MediaError) {
        // 4:2:0 to 4:2:0, bicubic (as ffmpeg's scale filter): no colour conversion here.
        guard let scaler = sws_getContext(sourceWidth, sourceHeight, AV_PIX_FMT_YUV420P, width, height,
                                          AV_PIX_FMT_YUV420P, SWS_BICUBIC, nil, nil, nil) else {
            throw MediaError("sws_getContext \(sourceWidth)x\(sourceHeight) -> \(width)x\(height)")
        }
        self.scaler = scaler
    }

    private func drainPackets() throws(MediaError) {
        guard let codec, let packet, let format else { return }
        while true {
            let status = avcodec_receive_packet(codec, packet)
            if status == cff_eagain() || status == cff_averror_eof() { return }
            try check(status, "avcodec_receive_packet")
            defer { av_packet_unref(packet) }
            let isKey = packet.pointee.flags & AV_PKT_FLAG_KEY != 0
            if isKey && packet.pointee.pts > 0 && packet.pointee.pts % segmentFrames == 0 {
                try cutSegment()
            }
            av_packet_rescale_ts(packet, codec.pointee.time_base, format.pointee.streams[0]!.pointee.time_base)
            packet.pointee.duration = ticksPerFrame
            packet.pointee.stream_index = 0
            try check(av_write_frame(format, packet), "av_write_frame")
            framesInSegment += 1
        }
    }

    private func cutSegment() throws(MediaError) {
        guard framesInSegment > 0 else { return }
        // With frag_custom, a NULL packet closes the current fragment (moof+mdat).
        try check(av_write_frame(format, nil), "av_write_frame(flush fragment)")
        emit(segmentIndex, framesInSegment, sink.take())
        segmentIndex += 1
        framesInSegment = 0
    }

    private func release() {
        if scaler != nil { sws_freeContext(scaler); scaler = nil }
        if frame != nil { av_frame_free(&frame) }
        if packet != nil { av_packet_free(&packet) }
        if codec != nil { avcodec_free_context(&codec) }
        FragmentedMP4.close(&format)
    }

    /// Reads profile, constraints and level from the SPS in the encoder's
    /// Annex B extradata: `avc1.PPCCLL`.
    static func codecString(extradata: UnsafeMutablePointer<UInt8>?, size: Int) -> String {
        guard let extradata, size > 8 else { return "avc1" }
        let bytes = UnsafeBufferPointer(start: extradata, count: size)
        var index = 0
        while index + 7 < bytes.count {
            let startCode = bytes[index] == 0 && bytes[index + 1] == 0 && bytes[index + 2] == 1
            if startCode && bytes[index + 3] & 0x1F == 7 {
                return String(format: "avc1.%02x%02x%02x", bytes[index + 4], bytes[index + 5], bytes[index + 6])
            }
            index += 1
        }
        return "avc1"
    }
}
