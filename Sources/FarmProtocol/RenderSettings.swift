/// Manim's quality presets, as the farm exposes them.
public enum Quality: String, Codable, Sendable, CaseIterable {
    case low, medium, high
    case fourK = "4k"

    /// The letter of Manim's `-q` flag.
    public var manimFlag: String {
        switch self {
        case .low: "l"
        case .medium: "m"
        case .high: "h"
        case .fourK: "k"
        }
    }

    /// The frame height Manim renders at for this preset.
    public var height: Int {
        switch self {
        case .low: 480
        case .medium: 720
        case .high: 1080
        case .fourK: 2160
        }
    }

    /// The frame rate Manim renders at for this preset.
    public var frameRate: Int {
        switch self {
        case .low: 15
        case .medium: 30
        case .high, .fourK: 60
        }
    }
}

/// How a scene is rendered: identical for every scene of a video.
public struct RenderSettings: Codable, Sendable, Hashable {
    /// Manim's quality preset.
    public var quality: Quality
    /// Seed for Python's and NumPy's generators, so renders are reproducible.
    public var seed: Int
    /// How long a scene without animations (a still) stays on screen in the video; 0 publishes only its picture.
    /// Absent in settings from before stills were in the video: the picture only.
    public var stillSeconds: Double?

    public init(quality: Quality = .high, seed: Int = 0, stillSeconds: Double? = nil) {
        self.quality = quality
        self.seed = seed
        self.stillSeconds = stillSeconds
    }

    /// The still length a submission gets unless it asks for another.
    public static let defaultStillSeconds = 1.0
    /// The longest a still may stay on screen.
    public static let maxStillSeconds = 600.0
}

/// One rung of the adaptive-bitrate ladder. Widths follow the rendered frame's
/// aspect ratio, so only the height is fixed here.
public struct Rendition: Codable, Sendable, Hashable {
    /// Output height in pixels (even).
    public var height: Int
    /// x264 constant rate factor.
    public var crf: Int

    public init(height: Int, crf: Int = 23) {
        self.height = height
        self.crf = crf
    }

    /// The name used for this rung's folder and playlist, for example `720p`.
    public var name: String { "\(height)p" }

    /// The default ladder for a render of `height`: the render's own height and
    /// the next two lower of 720, 480, 360 and 240.
    public static func defaultLadder(forRenderHeight height: Int) -> [Rendition] {
        let lower = [720, 480, 360, 240].filter { $0 < height }.prefix(2)
        return ([height] + lower).map { Rendition(height: $0) }
    }
}

/// How agents encode: the same for every scene of a video, so segments of
/// different scenes join without re-encoding.
public struct EncodingPlan: Codable, Sendable, Hashable {
    /// The ladder, highest rung first.
    public var renditions: [Rendition]
    /// Seconds between IDR frames, counted from each scene's first frame.
    public var keyframeSeconds: Int
    /// Target segment length in seconds; a multiple of `keyframeSeconds`.
    public var segmentSeconds: Int
    /// x264 preset.
    public var preset: String

    public init(renditions: [Rendition], keyframeSeconds: Int = 2, segmentSeconds: Int = 6, preset: String = "veryfast") {
        self.renditions = renditions
        self.keyframeSeconds = keyframeSeconds
        self.segmentSeconds = segmentSeconds
        self.preset = preset
    }
}

/// Resource limits an agent enforces on a render.
public struct TaskLimits: Codable, Sendable, Hashable {
    /// Wall-clock limit for the whole render.
    public var wallSeconds: Int
    /// Limit on time without a new frame.
    public var noProgressSeconds: Int
    /// Address-space limit for the Manim process, in bytes.
    public var memoryBytes: Int64

    public init(wallSeconds: Int = 3_600, noProgressSeconds: Int = 300, memoryBytes: Int64 = 8 << 30) {
        self.wallSeconds = wallSeconds
        self.noProgressSeconds = noProgressSeconds
        self.memoryBytes = memoryBytes
    }
}
