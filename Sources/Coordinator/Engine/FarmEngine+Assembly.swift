import FarmProtocol
import FarmModel
import FarmStorage
import Foundation
import Packaging

extension FarmEngine {
    /// Packages a video's accepted renders into its HLS ladder and MP4 (off the
    /// cooperative pool), then tells the core how it went.
    func assemble(_ video: VideoRecord, _ renders: [TaskRecord]) async {
        packaging.insert(video.id)
        defer { packaging.remove(video.id) }
        let outcome: AssemblyOutcome
        do {
            let published = try await publishFinal(video, renders)
            outcome = .published(frames: published.frames, seconds: published.seconds)
        } catch {
            outcome = .failed(configuration.objectOutputs == nil ? "\(error)" : "publishing to the object store failed: \(error)")
        }
        await apply(.assembled(videoID: video.id, outcome))
    }
}

/// Why accepted scenes could not be joined.
enum AssemblyError: Error, CustomStringConvertible {
    case inconsistentScenes(String)

    var description: String {
        switch self {
        case .inconsistentScenes(let why): why
        }
    }
}
