import Foundation

/// Every message of the farm protocol, in both directions.
public enum FarmMessage: Sendable, Equatable {
    // Agent → coordinator
    case register(Register)
    case heartbeat(Heartbeat)
    case progress(RenderProgress)
    /// A piece of a segment file, with its bytes.
    case chunk(SegmentChunk, Data)
    case result(TaskResult)
    case failure(TaskFailure)
    case planned(PlanResult)
    /// A part of an upload in parts is stored, or could not be.
    case joined(JoinedPart)
    /// Part of a video's sound track, or why it could not be made.
    case mixed(MixedAudio)
    /// The installed Manim's public API, or why it could not be listed.
    case manimDescribed(ManimDescription)
    // Coordinator → agent
    case registered(Registered)
    case assign(Assign)
    case cancel(Cancel)
    case resultAck(ResultAck)
    /// Build one part of `video.mp4` in the object store (see `JoinPart`).
    case join(JoinPart)
    /// Make a video's sound track (see `MixAudio`).
    case mix(MixAudio)
    /// List the installed Manim's public API (see `DescribeManim`).
    case describeManim(DescribeManim)
    /// The coordinator does not know this agent (it restarted): register again.
    case reregister
    // Either way
    case refused(Refused)

    /// The one-byte code that names the message on the wire.
    public var kind: MessageKind {
        switch self {
        case .register: .register
        case .heartbeat: .heartbeat
        case .progress: .progress
        case .chunk: .chunk
        case .result: .result
        case .failure: .failure
        case .planned: .planned
        case .joined: .joined
        case .mixed: .mixed
        case .manimDescribed: .manimDescribed
        case .registered: .registered
        case .assign: .assign
        case .cancel: .cancel
        case .resultAck: .resultAck
        case .join: .join
        case .mix: .mix
        case .describeManim: .describeManim
        case .reregister: .reregister
        case .refused: .refused
        }
    }
}

/// Wire codes of message kinds. Codes are never reused across versions.
public enum MessageKind: UInt8, Sendable, CaseIterable {
    case register = 1
    case heartbeat = 2
    case progress = 3
    case chunk = 4
    case result = 5
    case failure = 6
    case planned = 7
    case joined = 8
    case mixed = 9
    case manimDescribed = 10
    case registered = 20
    case assign = 21
    case cancel = 22
    case resultAck = 23
    case reregister = 24
    case join = 25
    case mix = 26
    case describeManim = 27
    case refused = 40
}
