import Foundation

/// Why segments could not be joined into a video.
public enum PackagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A segment is not a `moof`+`mdat` fragment with `mfhd` and `tfdt`.
    case malformedFragment(String)
    /// Two scenes of one rendition were encoded with different stream headers,
    /// so their segments cannot share one init segment.
    case incompatibleInitSegments(rendition: String, scene: Int)
    /// There is nothing to package.
    case empty
    /// Writing the output failed (`errno` as the system reported it).
    case io(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .malformedFragment(let why): "malformed fragment: \(why)"
        case .incompatibleInitSegments(let rendition, let scene):
            "rendition \(rendition): scene \(scene + 1) was encoded with a different stream header than scene 1"
        case .empty: "no frames to package"
        case .io(let path, let code): "could not write \(path): \(String(cString: strerror(code)))"
        }
    }
}
