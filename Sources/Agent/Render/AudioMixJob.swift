import FarmProtocol
import Foundation
import Media

/// Makes a video's sound track (see `MixAudio`) on a thread of its own: fetches
/// each sound file once (checked against its size and SHA-256), mixes scene
/// after scene into one AAC encoder (a scene's samples are held once, never the
/// whole video's), and hands the encoded track to `send` in answers of at most
/// `MixedAudio.maxBytesPerMessage`.
enum AudioMixJob {
    static func run(_ request: MixAudio, send: (MixedAudio) -> Void) {
        var sequence = 0
        var pending = MixedAudio(id: request.id, sequence: 0, last: false)
        var pendingBytes = 0
        func flush(last: Bool) {
            pending.sequence = sequence
            pending.last = last
            send(pending)
            sequence += 1
            pending = MixedAudio(id: request.id, sequence: sequence, last: false)
            pendingBytes = 0
        }
        do {
            var files: [Data] = []
            for file in request.files {
                do {
                    files.append(try TaskAssets.fetch(file))
                } catch {
                    throw Failure.agent("could not fetch sound \(file.name): \(error)")
                }
            }
            var emitted: [(segment: Int?, samples: Int, data: Data)] = []
            let encoder = try AudioEncoder(inputRate: Int32(MixAudio.sampleRate), inputChannels: 2, inputFormat: .float32,
                                           cuts: .at(request.cuts.map(Int64.init)), trackID: 2) { emitted.append(($0, $1, $2)) }
            func forward() {
                for (segment, samples, data) in emitted {
                    if segment == nil {
                        pending.initSegment = data
                    } else {
                        if pendingBytes + data.count > MixedAudio.maxBytesPerMessage, !pending.segments.isEmpty || pending.initSegment != nil {
                            flush(last: false)
                        }
                        pending.segments.append(data)
                        pending.samples.append(samples)
                    }
                    pendingBytes += data.count
                }
                emitted.removeAll()
            }
            forward()
            for scene in request.scenes {
                let sounds = scene.sounds.map { SoundMixer.Sound(data: files[$0.file], startSeconds: $0.seconds, gainDecibels: $0.gain) }
                let track: [Float]
                do {
                    track = try SoundMixer.mix(sounds, frames: scene.samples)
                } catch {
                    let names = Set(scene.sounds.map { request.files[$0.file].name }).sorted().joined(separator: ", ")
                    throw Failure.input("a sound of the scene (\(names)) cannot be read: \(error)")
                }
                try track.withUnsafeBufferPointer { try encoder.encode(interleaved: $0) }
                forward()
            }
            try encoder.finish()
            forward()
            flush(last: true)
        } catch let failure as Failure {
            send(failure.answer(request.id, sequence: sequence))
        } catch {
            send(Failure.agent("encoding the sound track failed: \(error)").answer(request.id, sequence: sequence))
        }
    }

    private enum Failure: Error {
        case input(String)
        case agent(String)

        func answer(_ id: String, sequence: Int) -> MixedAudio {
            switch self {
            case .input(let message):
                MixedAudio(id: id, sequence: sequence, last: true, error: String(message.prefix(4_000)), inputError: true)
            case .agent(let message):
                MixedAudio(id: id, sequence: sequence, last: true, error: String(message.prefix(4_000)))
            }
        }
    }
}
