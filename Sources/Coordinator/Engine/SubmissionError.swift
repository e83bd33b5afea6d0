/// Why a submission was refused before anything was stored.
public enum SubmissionError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyScript
    case scriptTooLarge(bytes: Int, limit: Int)
    case invalidLadder(String)
    case invalidScript(ScriptError)
    /// The store could not record the submission; nothing was accepted.
    case notPersisted(String)
    /// The team has this many videos not yet final, its quota.
    case tooManyActiveVideos(limit: Int)
    /// The submitted assets are too many, too large, or not safe relative paths.
    case invalidAssets(String)
    /// A setting out of its range.
    case invalidSetting(String)

    public var description: String {
        switch self {
        case .emptyScript: "the script is empty"
        case .scriptTooLarge(let bytes, let limit): "the script is \(bytes) bytes; the limit is \(limit)"
        case .invalidLadder(let why): "invalid ladder: \(why)"
        case .invalidScript(let error): error.description
        case .notPersisted(let why): "the submission could not be stored, nothing was accepted: \(why)"
        case .invalidAssets(let why): "invalid assets: \(why)"
        case .invalidSetting(let why): why
        case .tooManyActiveVideos(let limit):
            "your team has \(limit) videos queued or rendering, its quota of concurrent videos; submit again when one finishes"
        }
    }
}

extension SubmissionError {
    /// The submission field the error is about (`SubmitRequest`'s name for it), for forms.
    public var field: String? {
        switch self {
        case .emptyScript, .scriptTooLarge: "script"
        case .invalidLadder: "ladder"
        case .invalidAssets: "assets"
        case .invalidSetting(let why): why.hasPrefix("stillSeconds") ? "stillSeconds" : nil
        case .invalidScript(.unknownScenes), .invalidScript(.duplicateScenes): "scenes"
        case .invalidScript(.parserBusy): nil
        case .invalidScript: "script"
        case .notPersisted, .tooManyActiveVideos: nil
        }
    }
}
