import CFFmpeg
import Foundation

/// A scene's sound track, made once from the sounds its plan lists: each file
/// (WAV, MP3, OGG, FLAC: whatever libavformat reads) decoded with libavcodec,
/// resampled to 48 kHz stereo with libswresample, scaled by its gain and added
/// where it starts; the track lasts exactly as long as the scene, and the sum is
/// clipped to full scale, as Manim's own 16-bit mix is.
public enum SoundMixer {
    public struct Sound: Sendable {
        public var data: Data
        public var startSeconds: Double
        public var gainDecibels: Double?

        public init(data: Data, startSeconds: Double, gainDecibels: Double? = nil) {
            self.data = data
            self.startSeconds = startSeconds
            self.gainDecibels = gainDecibels
        }
    }

    public static let sampleRate = 48_000
    /// The longest track (and the longest sound) made: a day.
    public static let maxSeconds = 86_400.0

    /// Interleaved stereo samples at 48 kHz, `seconds` long.
    public static func mix(_ sounds: [Sound], seconds: Double) throws(MediaError) -> [Float] {
        guard seconds.isFinite, (0...maxSeconds).contains(seconds) else { throw MediaError("a sound track of \(seconds) s") }
        return try mix(sounds, frames: Int((seconds * Double(sampleRate)).rounded()))
    }

    /// Interleaved stereo samples at 48 kHz, `frames` sample frames long.
    public static func mix(_ sounds: [Sound], frames: Int) throws(MediaError) -> [Float] {
        guard (0...Int(maxSeconds) * sampleRate).contains(frames) else { throw MediaError("a sound track of \(frames) samples") }
        var track = [Float](repeating: 0, count: frames * 2)
        var allMono = true
        for sound in sounds {
            guard sound.startSeconds.isFinite, sound.startSeconds >= 0, (sound.gainDecibels ?? 0).isFinite else {
                throw MediaError("a sound at \(sound.startSeconds) s with a gain of \(sound.gainDecibels ?? 0) dB")
            }
            let start = Int((min(sound.startSeconds, maxSeconds) * Double(sampleRate)).rounded())
            guard start < frames else { continue }
            let (samples, channels) = try decode(sound.data, maxFrames: frames - start)
            if channels > 1 { allMono = false }
            let gain = Float(pow(10, (sound.gainDecibels ?? 0) / 20))
            track.withUnsafeMutableBufferPointer { out in
                for index in 0..<min(samples.count, (frames - start) * 2) { out[start * 2 + index] += samples[index] * gain }
            }
        }
        for index in track.indices { track[index] = min(max(track[index], -1), 1) }
        // Manim mixes a scene's sounds in one pydub segment that is mono until a stereo sound joins it, and its
        // encoder upmixes a mono segment 3 dB down on each side; with a stereo sound, mono ones play at full level.
        if allMono && !sounds.isEmpty {
            let down = Float(0.5.squareRoot())
            for index in track.indices { track[index] *= down }
        }
        return track
    }

    /// A sound file as interleaved stereo float at 48 kHz: at most `maxFrames` of it (the rest would not be heard).
    static func decode(_ data: Data, maxFrames: Int) throws(MediaError) -> (samples: [Float], channels: Int) {
        let source = try ByteSource(data)
        var format = avformat_alloc_context()
        guard let context = format else { throw MediaError("avformat_alloc_context") }
        context.pointee.pb = source.context
        context.pointee.flags |= AVFMT_FLAG_CUSTOM_IO
        // On failure avformat_open_input frees the context and sets it to nil.
        try check(avformat_open_input(&format, nil, nil, nil), "reading the sound file")
        defer {
            format?.pointee.pb = nil
            avformat_close_input(&format)
        }
        try check(avformat_find_stream_info(format, nil), "reading the sound file's streams")
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(format, AVMEDIA_TYPE_AUDIO, -1, -1, &decoder, 0)
        try check(index, "finding a sound in the file")
        guard let decoder, let stream = format?.pointee.streams[Int(index)] else { throw MediaError("no audio decoder for the sound") }
        var codec = avcodec_alloc_context3(decoder)
        defer { avcodec_free_context(&codec) }
        guard let codec else { throw MediaError("avcodec_alloc_context3") }
        try check(avcodec_parameters_to_context(codec, stream.pointee.codecpar), "avcodec_parameters_to_context")
        try check(avcodec_open2(codec, decoder, nil), "opening the sound's decoder")
        guard (1...8).contains(codec.pointee.ch_layout.nb_channels), (1_000...384_000).contains(codec.pointee.sample_rate) else {
            throw MediaError("a sound of \(codec.pointee.ch_layout.nb_channels) channels at \(codec.pointee.sample_rate) Hz")
        }
        var input = AVChannelLayout(), output = AVChannelLayout()
        defer {
            av_channel_layout_uninit(&input)
            av_channel_layout_uninit(&output)
        }
        if codec.pointee.ch_layout.order == AV_CHANNEL_ORDER_UNSPEC {
            av_channel_layout_default(&input, codec.pointee.ch_layout.nb_channels)
        } else {
            try check(av_channel_layout_copy(&input, &codec.pointee.ch_layout), "av_channel_layout_copy")
        }
        av_channel_layout_default(&output, 2)
        var resampler: OpaquePointer?
        defer { swr_free(&resampler) }
        try check(swr_alloc_set_opts2(&resampler, &output, AV_SAMPLE_FMT_FLT, Int32(sampleRate), &input, codec.pointee.sample_fmt,
                                      codec.pointee.sample_rate, 0, nil), "swr_alloc_set_opts2")
        // A mono sound plays at full level on both sides (as Manim's mix duplicates it); libswresample's own
        // matrix puts it 3 dB down on each.
        if codec.pointee.ch_layout.nb_channels == 1 {
            var matrix: [Double] = [1, 1]
            try check(swr_set_matrix(resampler, &matrix, 1), "swr_set_matrix")
        }
        try check(swr_init(resampler), "swr_init")
        var packet = av_packet_alloc(), frame = av_frame_alloc()
        defer {
            av_packet_free(&packet)
            av_frame_free(&frame)
        }
        guard let packet, let frame else { throw MediaError("av_packet_alloc") }
        var samples: [Float] = []

        func convert(_ frame: UnsafeMutablePointer<AVFrame>?) throws(MediaError) {
            let count = frame.map { Int($0.pointee.nb_samples) } ?? 0
            let capacity = Int(swr_get_out_samples(resampler, Int32(count))) + 32
            var buffer = [Float](repeating: 0, count: capacity * 2)
            let converted = buffer.withUnsafeMutableBytes { raw in
                var out: UnsafeMutablePointer<UInt8>? = raw.baseAddress?.assumingMemoryBound(to: UInt8.self)
                guard let frame else { return swr_convert(resampler, &out, Int32(capacity), nil, 0) }
                let planes = UnsafeMutableRawPointer(frame.pointee.extended_data).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
                return swr_convert(resampler, &out, Int32(capacity), planes, frame.pointee.nb_samples)
            }
            try check(converted, "resampling the sound")
            samples += buffer.prefix(Int(converted) * 2)
        }

        func receive() throws(MediaError) -> Bool {
            while true {
                let status = avcodec_receive_frame(codec, frame)
                if status == cff_eagain() || status == cff_averror_eof() { return samples.count < maxFrames * 2 }
                try check(status, "decoding the sound")
                try convert(frame)
                av_frame_unref(frame)
                if samples.count >= maxFrames * 2 { return false }
            }
        }

        reading: while av_read_frame(format, packet) >= 0 {
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == index else { continue }
            try check(avcodec_send_packet(codec, packet), "decoding the sound")
            if try !receive() { break reading }
        }
        if samples.count < maxFrames * 2 {
            _ = avcodec_send_packet(codec, nil)
            _ = try receive()
            try convert(nil)
        }
        return (Array(samples.prefix(maxFrames * 2)), Int(codec.pointee.ch_layout.nb_channels))
    }
}
