import FarmProtocol
import Foundation
import Media

/// Sends encoded files to the coordinator in checksummed chunks as they are
/// produced, and remembers what it sent for the final result.
final class SegmentUploader: @unchecked Sendable {
    // Used only from the render thread that owns the job.
    private let ref: AttemptRef
    private let chunkSize: Int
    private let send: @Sendable (FarmMessage) -> Void
    private var inits: [Int: (size: Int, crc: UInt32)] = [:]
    private var segments: [Int: [SegmentInfo]] = [:]

    init(ref: AttemptRef, chunkSize: Int, send: @escaping @Sendable (FarmMessage) -> Void) {
        self.ref = ref
        self.chunkSize = chunkSize
        self.send = send
    }

    func upload(_ file: EncodedFile) {
        let id = SegmentID(rendition: file.rendition, segment: file.segment)
        var offset = 0
        repeat {
            let end = min(offset + chunkSize, file.data.count)
            let bytes = file.data.subdata(in: offset..<end)
            send(.chunk(SegmentChunk(ref: ref, file: id, offset: offset, totalSize: file.data.count,
                                     crc32: Checksum.crc32(bytes)), bytes))
            offset = end
        } while offset < file.data.count
        let crc = Checksum.crc32(file.data)
        if let index = file.segment {
            segments[file.rendition, default: []].append(
                SegmentInfo(index: index, frames: file.frames, size: file.data.count, crc32: crc))
        } else {
            inits[file.rendition] = (file.data.count, crc)
        }
    }

    func result(summaries: [SceneEncoder.RenditionSummary], frames: Int, source: FrameStream.Header?,
                timescale: Int, seconds: Double) -> TaskResult {
        let renditions = summaries.enumerated().map { index, summary in
            RenditionOutput(width: summary.width, height: summary.height, codecs: summary.codecs,
                            initSize: inits[index]?.size ?? 0, initCRC32: inits[index]?.crc ?? 0,
                            segments: segments[index] ?? [])
        }
        return TaskResult(ref: ref, frames: frames, sourceWidth: source?.width ?? 0, sourceHeight: source?.height ?? 0,
                          frameRate: Int((source?.frameRate ?? 0).rounded()), timescale: timescale,
                          renditions: renditions, renderSeconds: seconds)
    }
}
