import CFFmpeg
import Foundation

/// Encodes a sound track into AAC-LC (`mp4a.40.2`) at 48 kHz stereo, in
/// fragmented MP4 held in memory, the audio counterpart of `RenditionEncoder`:
/// whatever the input's rate and channels (resampled with libswresample), a
/// fragment is cut at the first AAC frame boundary at or after each cut on the
/// track's timeline (every `segmentSamples` output samples, or the video's own
/// segment boundaries; the first fragment also holds the encoder's priming,
/// which plays before 0), so audio segments line up with the video's to within
/// one AAC frame (1024 samples, 21 ms).
///
/// Not thread-safe: one thread owns an encoder.
public final class AudioEncoder {
    public static let sampleRate: Int32 = 48_000
    public static let codecs = "mp4a.40.2"
    /// Where fragments after the first start, on the output timeline.
    private let cuts: Cuts
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var resampler: OpaquePointer?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private let sink: ByteSink
    /// Resampled samples not yet in a frame, one array per channel.
    private var pending: [[Float]] = [[], []]
    private var nextPTS: Int64 = 0
    private var segmentIndex = 0
    private var samplesInSegment = 0
    private let inputChannels: Int32
    private let inputFormat: SampleFormat

    /// How `encode` samples come: 16-bit integers (Manim's own mix) or floats (`SoundMixer`).
    public enum SampleFormat: Sendable {
        case int16, float32

        var libav: AVSampleFormat { self == .int16 ? AV_SAMPLE_FMT_S16 : AV_SAMPLE_FMT_FLT }
    }
    private let emit: (_ segment: Int?, _ samples: Int, _ data: Data) -> Void

    /// Where fragments are cut.
    public enum Cuts: Sendable {
        /// Every so many output samples.
        case every(Int64)
        /// At these output sample positions (ascending): the starts of every fragment after the first.
        case at([Int64])

        /// The cut that ends fragment `index`, if any.
        func end(of index: Int) -> Int64? {
            switch self {
            case .every(let samples): Int64(index + 1) * samples
            case .at(let positions): index < positions.count ? positions[index] : nil
            }
        }
    }

    /// - Parameters:
    ///   - inputRate, inputChannels, inputFormat: of the interleaved samples `encode` takes.
    ///   - segmentSamples: output samples (at 48 kHz) per fragment.
    ///   - trackID: the MP4 track's ID (2 for a track that joins a video's track 1 in one file).
    ///   - emit: the init segment (`segment == nil`), then each fragment with its sample count.
    public convenience init(inputRate: Int32, inputChannels: Int32, inputFormat: SampleFormat = .int16, segmentSamples: Int64,
                            bitRate: Int64 = 128_000, trackID: Int32 = 1,
                            emit: @escaping (_ segment: Int?, _ samples: Int, _ data: Data) -> Void) throws(MediaError) {
        guard segmentSamples >= 1_024 else { throw MediaError("audio in segments of \(segmentSamples) samples") }
        try self.init(inputRate: inputRate, inputChannels: inputChannels, inputFormat: inputFormat, cuts: .every(segmentSamples),
                      bitRate: bitRate, trackID: trackID, emit: emit)
    }

    public init(inputRate: Int32, inputChannels: Int32, inputFormat: SampleFormat = .int16, cuts: Cuts,
                bitRate: Int64 = 128_000, trackID: Int32 = 1,
                emit: @escaping (_ segment: Int?, _ samples: Int, _ data: Data) -> Void) throws(MediaError) {
        guard (8_000...384_000).contains(inputRate), (1...8).contains(inputChannels), (1...0xFFFF).contains(trackID) else {
            throw MediaError("audio of \(inputChannels) channels at \(inputRate) Hz on track \(trackID)")
        }
        self.cuts = cuts
        self.inputChannels = inputChannels
        self.inputFormat = inputFormat
        self.emit = emit
        sink = try ByteSink()
        do {
            try openEncoder(bitRate: bitRate)
            try openMuxer(trackID: trackID)
            try openResampler(inputRate: inputRate, inputChannels: inputChannels)
        } catch {
            release()
            throw error
        }
    }

    deinit {
        release()
    }

    /// Takes interleaved signed 16-bit samples (`inputChannels` per instant), for an `.int16` encoder.
    public func encode(interleaved samples: UnsafeBufferPointer<Int16>) throws(MediaError) {
        guard inputFormat == .int16 else { throw MediaError("16-bit samples for a float encoder") }
        try encode(raw: UnsafeRawPointer(samples.baseAddress), values: samples.count)
    }

    /// Takes interleaved float samples in [-1, 1], for a `.float32` encoder.
    public func encode(interleaved samples: UnsafeBufferPointer<Float>) throws(MediaError) {
        guard inputFormat == .float32 else { throw MediaError("float samples for a 16-bit encoder") }
        try encode(raw: UnsafeRawPointer(samples.baseAddress), values: samples.count)
    }

    private func encode(raw: UnsafeRawPointer?, values: Int) throws(MediaError) {
        guard let resampler else { throw MediaError("audio encoder already finished") }
        guard let raw else { return }
        let inputCount = values / Int(inputChannels)
        guard inputCount > 0 else { return }
        let capacity = Int(swr_get_out_samples(resampler, Int32(inputCount))) + 16
        var left = [Float](repeating: 0, count: capacity), right = [Float](repeating: 0, count: capacity)
        let converted = left.withUnsafeMutableBytes { l in
            right.withUnsafeMutableBytes { r in
                var outputs: [UnsafeMutablePointer<UInt8>?] = [l.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                                r.baseAddress?.assumingMemoryBound(to: UInt8.self)]
                var input: UnsafePointer<UInt8>? = raw.assumingMemoryBound(to: UInt8.self)
                return swr_convert(resampler, &outputs, Int32(capacity), &input, Int32(inputCount))
            }
        }
        try check(converted, "swr_convert")
        pending[0] += left.prefix(Int(converted))
        pending[1] += right.prefix(Int(converted))
        try sendFrames(flushing: false)
    }

    /// Encodes what is left (padding the last AAC frame with silence) and emits the last fragment.
    public func finish() throws(MediaError) {
        guard let resampler else { return }
        let tail = Int(swr_get_out_samples(resampler, 0)) + 16
        if tail > 16 {
            var left = [Float](repeating: 0, count: tail), right = [Float](repeating: 0, count: tail)
            let converted = left.withUnsafeMutableBytes { l in
                right.withUnsafeMutableBytes { r in
                    var outputs: [UnsafeMutablePointer<UInt8>?] = [l.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                                                    r.baseAddress?.assumingMemoryBound(to: UInt8.self)]
                    return swr_convert(resampler, &outputs, Int32(tail), nil, 0)
                }
            }
            if converted > 0 {
                pending[0] += left.prefix(Int(converted))
                pending[1] += right.prefix(Int(converted))
            }
        }
        try sendFrames(flushing: true)
        try check(avcodec_send_frame(codec, nil), "avcodec_send_frame(flush)")
        try drainPackets()
        try cutSegment()
        try check(av_write_trailer(format), "av_write_trailer")
        _ = sink.take()
        release()
    }

    /// Output samples encoded so far (at 48 kHz).
    public var samplesEncoded: Int64 { nextPTS }

    private func sendFrames(flushing: Bool) throws(MediaError) {
        guard let codec, let frame else { return }
        let frameSize = Int(codec.pointee.frame_size)
        while pending[0].count >= frameSize || (flushing && !pending[0].isEmpty) {
            try check(av_frame_make_writable(frame), "av_frame_make_writable")
            let count = min(frameSize, pending[0].count)
            for channel in 0..<2 {
                let plane = UnsafeMutableRawPointer(frame.pointee.extended_data[channel]!).assumingMemoryBound(to: Float.self)
                pending[channel].withUnsafeBufferPointer { plane.update(from: $0.baseAddress!, count: count) }
                if count < frameSize { (plane + count).update(repeating: 0, count: frameSize - count) }
                pending[channel].removeFirst(count)
            }
            frame.pointee.pts = nextPTS
            nextPTS += Int64(frameSize)
            try check(avcodec_send_frame(codec, frame), "avcodec_send_frame")
            try drainPackets()
        }
    }

    private func drainPackets() throws(MediaError) {
        guard let codec, let packet, let format else { return }
        while true {
            let status = avcodec_receive_packet(codec, packet)
            if status == cff_eagain() || status == cff_averror_eof() { return }
            try check(status, "avcodec_receive_packet")
            defer { av_packet_unref(packet) }
            // Boundaries on the absolute timeline, so cuts never drift from the video's.
            if let end = cuts.end(of: segmentIndex), packet.pointee.pts >= end, samplesInSegment > 0 {
                try cutSegment()
            }
            samplesInSegment += Int(packet.pointee.duration)
            av_packet_rescale_ts(packet, codec.pointee.time_base, format.pointee.streams[0]!.pointee.time_base)
            packet.pointee.stream_index = 0
            try check(av_write_frame(format, packet), "av_write_frame")
        }
    }

    private func cutSegment() throws(MediaError) {
        guard samplesInSegment > 0 else { return }
        try check(av_write_frame(format, nil), "av_write_frame(flush fragment)")
        emit(segmentIndex, samplesInSegment, sink.take())
        segmentIndex += 1
        samplesInSegment = 0
    }

    private func openEncoder(bitRate: Int64) throws(MediaError) {
        guard let encoder = avcodec_find_encoder(AV_CODEC_ID_AAC) else { throw MediaError("AAC encoder not found") }
        guard let codec = avcodec_alloc_context3(encoder) else { throw MediaError("avcodec_alloc_context3(aac)") }
        self.codec = codec
        codec.pointee.sample_fmt = AV_SAMPLE_FMT_FLTP
        codec.pointee.sample_rate = Self.sampleRate
        av_channel_layout_default(&codec.pointee.ch_layout, 2)
        codec.pointee.bit_rate = bitRate
        codec.pointee.profile = FF_PROFILE_AAC_LOW
        codec.pointee.time_base = AVRational(num: 1, den: Self.sampleRate)
        codec.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        try check(avcodec_open2(codec, encoder, nil), "avcodec_open2(aac)")
        guard let frame = av_frame_alloc(), let packet = av_packet_alloc() else { throw MediaError("av_frame_alloc") }
        self.frame = frame
        self.packet = packet
        frame.pointee.format = AV_SAMPLE_FMT_FLTP.rawValue
        frame.pointee.sample_rate = Self.sampleRate
        frame.pointee.nb_samples = codec.pointee.frame_size
        try check(av_channel_layout_copy(&frame.pointee.ch_layout, &codec.pointee.ch_layout), "av_channel_layout_copy")
        try check(av_frame_get_buffer(frame, 0), "av_frame_get_buffer")
    }

    private func openMuxer(trackID: Int32) throws(MediaError) {
        try FragmentedMP4.open(&format, codec: codec, sink: sink, timescale: Self.sampleRate, trackID: trackID)
        // The muxer cannot write an edit list into an empty moov (it does not know the start yet), so the
        // encoder's priming would play as a 21 ms delay and lengthen the track; the edit list says to skip it.
        emit(nil, 0, try PrimingEditList.insert(into: sink.take(), priming: Int(codec?.pointee.initial_padding ?? 0)))
    }

    private func openResampler(inputRate: Int32, inputChannels: Int32) throws(MediaError) {
        var input = AVChannelLayout(), output = AVChannelLayout()
        av_channel_layout_default(&input, inputChannels)
        av_channel_layout_default(&output, 2)
        defer {
            av_channel_layout_uninit(&input)
            av_channel_layout_uninit(&output)
        }
        var resampler: OpaquePointer?
        try check(swr_alloc_set_opts2(&resampler, &output, AV_SAMPLE_FMT_FLTP, Self.sampleRate, &input, inputFormat.libav,
                                      inputRate, 0, nil), "swr_alloc_set_opts2")
        self.resampler = resampler
        // A mono sound plays at full level on both sides (as Manim's mix duplicates it); libswresample's own
        // matrix puts it 3 dB down on each.
        if inputChannels == 1 {
            var matrix: [Double] = [1, 1]
            try check(swr_set_matrix(resampler, &matrix, 1), "swr_set_matrix")
        }
        try check(swr_init(resampler), "swr_init")
    }

    private func release() {
        if resampler != nil { swr_free(&resampler) }
        if frame != nil { av_frame_free(&frame) }
        if packet != nil { av_packet_free(&packet) }
        if codec != nil { avcodec_free_context(&codec) }
        FragmentedMP4.close(&format)
    }
}
