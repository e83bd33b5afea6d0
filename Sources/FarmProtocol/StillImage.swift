import Foundation

/// A scene without animations, rendered: Manim saves its one frame as a PNG
/// instead of a movie, and so does the farm. The still adds no time to the
/// video; it is published beside it (`stills/<Scene>.png`). Small enough to
/// travel in the result itself (a Manim still compresses to tens of KiB).
public struct StillImage: Codable, Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var png: Data

    public init(width: Int, height: Int, png: Data) {
        self.width = width
        self.height = height
        self.png = png
    }

    /// The largest PNG a result may carry.
    public static let maxBytes = 8 << 20
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
}

extension StillImage: ValidatedMessage {
    /// The PNG starts with its signature and an IHDR that declares the announced size.
    public func validate() throws(WireError) {
        try Check.range(width, 1...MessageLimits.maxDimension, "still width")
        try Check.range(height, 1...MessageLimits.maxDimension, "still height")
        guard png.count <= Self.maxBytes else { throw .invalidBody("a still of \(png.count) bytes, above \(Self.maxBytes)") }
        let bytes = [UInt8](png.prefix(24))
        guard bytes.count == 24, Array(bytes[0..<8]) == Self.signature, Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw .invalidBody("a still that is not a PNG")
        }
        let declared = (bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, bytes[20..<24].reduce(0) { $0 << 8 | Int($1) })
        guard declared == (width, height) else {
            throw .invalidBody("a still announced \(width)x\(height) whose PNG is \(declared.0)x\(declared.1)")
        }
    }
}
