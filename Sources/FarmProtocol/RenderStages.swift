/// Where one render attempt's time went on its agent, stage by stage, in seconds (wall time unless the name says
/// CPU). The agent measures its own stages; `manim` is what the script's process reported about itself, outside the
/// agent's trust and so used for accounting only (`bench/accounting.py`), never for a decision.
public struct RenderStages: Codable, Sendable, Equatable {
    /// Writing the task's files and starting Manim (a fork of the warm server, or a cold process).
    public var launch: Double = 0
    /// From Manim's start to its first frame: the script's own set-up, LaTeX, animations skipped before a range.
    public var firstFrame: Double = 0
    /// Waiting on Manim for each later frame (it draws while the agent encodes the previous one).
    public var waitForFrames: Double = 0
    /// Converting each frame from RGBA to YUV 4:2:0, once for the whole ladder (CPU).
    public var convertCPU: Double = 0
    /// Per rendition, highest first: scaling from the source picture (CPU).
    public var scaleCPU: [Double] = []
    /// Per rendition, highest first: x264 and the fMP4 muxer (CPU).
    public var encodeCPU: [Double] = []
    /// Waiting for every rendition to take each frame (they encode in parallel; the slowest sets this).
    public var encodeWall: Double = 0
    /// Handing finished segments to the link or the object store.
    public var upload: Double = 0
    /// Flushing the encoders and reaping Manim once the stream ended.
    public var finish: Double = 0
    /// The whole attempt on the agent, from its assignment to its result.
    public var total: Double = 0
    public var manim: ManimStages?

    public init() {}
}

/// The script's process's own account of a render (`farm_shim.py`'s STAGES), in seconds.
public struct ManimStages: Codable, Sendable, Equatable {
    /// The process's start (a warm fork) until the first animation plays.
    public var setup: Double = 0
    /// Compiling TeX and converting it to SVG; its CPU is the compilers'.
    public var latex: Double = 0
    public var latexCPU: Double = 0
    public var latexCompiles: Int = 0
    /// Expressions asked for (a compile, or an SVG already there).
    public var texCalls: Int = 0
    /// Stepping through the animations before a range's first, without drawing.
    public var skip: Double = 0
    /// Cairo drawing the frames.
    public var draw: Double = 0
    public var drawCPU: Double = 0
    /// Writing frames into the frame stream, blocked while the agent encodes the one before.
    public var pipe: Double = 0
    /// Frames in the video, and the writes that carried them (a still stretch is one write).
    public var frames: Int = 0
    public var writes: Int = 0
    /// The process from its start to its last frame, wall and CPU.
    public var total: Double = 0
    public var cpu: Double = 0

    public init() {}
}

extension RenderStages: ValidatedMessage {
    public func validate() throws(WireError) {
        for (value, field) in [(launch, "launch"), (firstFrame, "firstFrame"), (waitForFrames, "waitForFrames"),
                               (convertCPU, "convertCPU"), (encodeWall, "encodeWall"), (upload, "upload"),
                               (finish, "finish"), (total, "total")] {
            try Check.seconds(value, "stages.\(field)")
        }
        try Check.count(scaleCPU, MessageLimits.maxRenditions, "stages.scaleCPU")
        try Check.count(encodeCPU, MessageLimits.maxRenditions, "stages.encodeCPU")
        for value in scaleCPU + encodeCPU { try Check.seconds(value, "stages per rendition") }
        try manim?.validate()
    }
}

extension ManimStages: ValidatedMessage {
    public func validate() throws(WireError) {
        for (value, field) in [(setup, "setup"), (latex, "latex"), (latexCPU, "latexCPU"), (skip, "skip"), (draw, "draw"),
                               (drawCPU, "drawCPU"), (pipe, "pipe"), (total, "total"), (cpu, "cpu")] {
            try Check.seconds(value, "stages.manim.\(field)")
        }
        for (value, field) in [(latexCompiles, "latexCompiles"), (texCalls, "texCalls"), (frames, "frames"), (writes, "writes")] {
            try Check.range(value, 0...MessageLimits.maxFrames, "stages.manim.\(field)")
        }
    }
}
