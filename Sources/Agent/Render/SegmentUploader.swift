import FarmProtocol
import Foundation
import Logging
import Media
import Packaging

/// Sends encoded files on as they are produced, and remembers what it sent for
/// the final result. With an object store (`Assign.output`), each fragment is
/// first moved to its place on the video's timeline and every file with a
/// presigned URL goes straight to the store; the rest (and any file whose
/// upload failed) goes to the coordinator in checksummed chunks.
final class SegmentUploader: @unchecked Sendable {
    // Used only from the render thread that owns the job.
    private let ref: AttemptRef
    private let chunkSize: Int
    private let placement: OutputPlacement?
    private let send: @Sendable (FarmMessage) -> Void
    private let logger = Logger(label: "farm.agent.upload")
    private var inits: [Int: (size: Int, crc: UInt32)] = [:]
    private var segments: [Int: [SegmentInfo]] = [:]
    private var framesBefore: [Int: Int] = [:]
    private var stored: [StoredFile] = []
    /// Ticks of the tracks' timescale per frame, once the encoder has started.
    var ticksPerFrame: Int?
    /// Why a file could not be placed on the timeline; the render then fails.
    private(set) var failure: String?

    init(ref: AttemptRef, chunkSize: Int, placement: OutputPlacement?, send: @escaping @Sendable (FarmMessage) -> Void) {
        self.ref = ref
        self.chunkSize = chunkSize
        self.placement = placement
        self.send = send
    }

    /// Where this attempt's fragments start on the timeline, when it places them.
    private var firstFrame: Int? {
        guard let firstFrame = placement?.firstFrame, ticksPerFrame != nil else { return nil }
        return firstFrame
    }

    func upload(_ file: EncodedFile) {
        do {
            try place(file)
        } catch {
            if failure == nil { failure = "\(error)" }
        }
    }

    private func place(_ file: EncodedFile) throws {
        let id = SegmentID(rendition: file.rendition, segment: file.segment)
        var data = file.data
        if let index = file.segment, let firstFrame, let ticksPerFrame {
            // Sequence numbers increase through the video (one per frame position), decode times are exact.
            let frame = firstFrame + framesBefore[file.rendition, default: 0]
            let (ticks, overflow) = UInt64(frame).multipliedReportingOverflow(by: UInt64(ticksPerFrame))
            guard !overflow, frame < Int(UInt32.max) else { throw FrameStream.StreamError("segment \(index) leaves the timeline") }
            data = try FragmentRewriter.rewrite(data, sequenceNumber: UInt32(frame + 1), baseDecodeTime: ticks)
        }
        let name = OutputPlacement.fileName(id)
        if let text = placement?.uploads[name], let url = URL(string: text) {
            do {
                stored.append(StoredFile(name: name, md5: try ObjectUpload.put(data, to: url)))
                record(file, id: id, data: data)
                return
            } catch {
                logger.warning("upload to the object store failed; sending it to the coordinator instead", metadata: [
                    "task": "\(ref.taskID)", "attempt": "\(ref.attempt)", "file": "\(name)", "error": "\(error)",
                ])
            }
        }
        var offset = 0
        repeat {
            let end = min(offset + chunkSize, data.count)
            let bytes = data.subdata(in: offset..<end)
            send(.chunk(SegmentChunk(ref: ref, file: id, offset: offset, totalSize: data.count,
                                     crc32: Checksum.crc32(bytes)), bytes))
            offset = end
        } while offset < data.count
        record(file, id: id, data: data)
    }

    private func record(_ file: EncodedFile, id: SegmentID, data: Data) {
        let crc = Checksum.crc32(data)
        if let index = file.segment {
            segments[file.rendition, default: []].append(
                SegmentInfo(index: index, frames: file.frames, size: data.count, crc32: crc))
            framesBefore[file.rendition, default: 0] += file.frames
        } else {
            inits[file.rendition] = (data.count, crc)
        }
    }

    func result(summaries: [SceneEncoder.RenditionSummary], frames: Int, source: FrameStream.Header?,
                timescale: Int, seconds: Double) -> TaskResult {
        let renditions = summaries.enumerated().map { index, summary in
            RenditionOutput(width: summary.width, height: summary.height, codecs: summary.codecs,
                            initSize: inits[index]?.size ?? 0, initCRC32: inits[index]?.crc ?? 0,
                            segments: segments[index] ?? [])
        }
        var result = TaskResult(ref: ref, frames: frames, sourceWidth: source?.width ?? 0, sourceHeight: source?.height ?? 0,
                                frameRate: Int((source?.frameRate ?? 0).rounded()), timescale: timescale,
                                renditions: renditions, renderSeconds: seconds)
        result.placedAt = firstFrame
        result.stored = placement == nil ? nil : stored
        return result
    }
}
