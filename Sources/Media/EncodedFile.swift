import Foundation

/// A file produced by the encoder: a rendition's init segment or one media segment.
public struct EncodedFile: Sendable {
    /// Index of the rendition in the encoding plan.
    public var rendition: Int
    /// Media segment index from 0; `nil` for the init segment.
    public var segment: Int?
    /// Frames in a media segment (0 for the init segment).
    public var frames: Int
    /// The bytes: `ftyp`+`moov`, or one `moof`+`mdat` fragment.
    public var data: Data
}
