import Foundation

/// What a task asks of an agent.
public enum TaskKind: String, Codable, Sendable {
    /// Run every scene's `construct()` with animations skipped and report each
    /// scene's animations, so the coordinator can split and schedule.
    case plan
    /// Render frames and encode them into every rendition.
    case render
}

/// A contiguous run of a scene's animations (Manim's `-n first,last`), 0-based and inclusive.
public struct AnimationRange: Codable, Sendable, Hashable, CustomStringConvertible {
    public var first: Int
    public var last: Int

    public init(first: Int, last: Int) {
        precondition(first >= 0 && last >= first, "an animation range runs forwards from 0")
        self.first = first
        self.last = last
    }

    public var description: String { "\(first)…\(last)" }
}

/// One `play` or `wait` call of a scene, as a planning pass saw it.
public struct PlannedAnimation: Codable, Sendable, Equatable {
    /// Run time in seconds.
    public var seconds: Double
    /// Frames the animation adds to the video at the video's frame rate.
    public var frames: Int
    /// True for a `wait_until`-style animation whose real length depends on a stop condition.
    public var variable: Bool

    public init(seconds: Double, frames: Int, variable: Bool = false) {
        self.seconds = seconds
        self.frames = frames
        self.variable = variable
    }
}

/// A scene's animations, in order, and whether it can be rendered in ranges.
public struct ScenePlan: Codable, Sendable, Equatable {
    public var scene: String
    public var animations: [PlannedAnimation]
    /// The scene adds sounds: ranges would drop or misplace them.
    public var sounds: Bool
    /// Every sound the scene adds, in order: what its mix is made of. Absent from older agents' plans.
    public var soundEvents: [PlannedSound]?
    /// Files the planning pass made for the renders (narration the farm spoke, under `voiceovers/`), sent once
    /// here and from then on with every task of the video like submitted assets.
    public var generated: [GeneratedFile]?

    public init(scene: String, animations: [PlannedAnimation], sounds: Bool = false, soundEvents: [PlannedSound]? = nil,
                generated: [GeneratedFile]? = nil) {
        self.scene = scene
        self.animations = animations
        self.sounds = sounds
        self.soundEvents = soundEvents
        self.generated = generated
    }

    /// Frames of the whole scene.
    public var frames: Int { animations.reduce(0) { $0 + $1.frames } }
}

/// An agent's answer to a plan task.
public struct PlanResult: Codable, Sendable, Equatable {
    public var ref: AttemptRef
    /// The Manim version that planned, part of every render's cache key.
    public var manimVersion: String
    public var scenes: [ScenePlan]
    public var seconds: Double

    public init(ref: AttemptRef, manimVersion: String, scenes: [ScenePlan], seconds: Double) {
        self.ref = ref
        self.manimVersion = manimVersion
        self.scenes = scenes
        self.seconds = seconds
    }
}

/// One `add_sound` of a scene, as the planning pass saw it (without reading the file).
public struct PlannedSound: Codable, Sendable, Equatable {
    /// The path the script gave, relative to its folder (an asset) or to Manim's assets folder.
    public var file: String
    /// When it starts on the scene's timeline.
    public var seconds: Double
    /// Decibels added, if any.
    public var gain: Double?

    public init(file: String, seconds: Double, gain: Double? = nil) {
        self.file = file
        self.seconds = seconds
        self.gain = gain
    }

    /// Sounds one scene may add.
    public static let maxPerScene = 10_000
}

/// A file a planning pass made (see `ScenePlan.generated`).
public struct GeneratedFile: Codable, Sendable, Equatable {
    /// Where the renders find it, relative to the script: always under `folder`.
    public var name: String
    public var data: Data

    public init(name: String, data: Data) {
        self.name = name
        self.data = data
    }

    /// Where narration goes: manim-voiceover's cache, as the farm's shim sets it.
    public static let folder = "voiceovers/"
    /// Where the LaTeX the pass compiled goes (SVGs, one bundle per scene), so that the renders do not compile it
    /// again. Unlike narration it only saves time: a video that cannot carry it renders without it.
    public static let texFolder = "farm-tex/"

    /// Whether `name` is one a planning pass may make: a safe path in one of the two folders.
    public static func isAllowed(_ name: String) -> Bool {
        (name.hasPrefix(folder) || name.hasPrefix(texFolder)) && AssetFile.isSafeName(name)
    }
}
