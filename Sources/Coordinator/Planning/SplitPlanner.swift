import FarmProtocol
import FarmModel
import FarmStorage
import Foundation

/// Turns a planned video into render tasks: whole scenes, and long scenes cut
/// into animation ranges so that no single piece holds up the video.
///
/// Cutting happens in two steps. First every scene longer than about
/// `1 / (2 × slots)` of the video's estimated work is cut into even runs of
/// that size. Then `dispatchOrder` fills the fleet's slots on paper and cuts
/// where a piece would run past the common finish, which also fixes the order
/// in which the pieces are dispatched. No piece is made shorter than
/// `minimumPieceSeconds`, since each range pays a fixed start and replays the
/// animations before it.
struct SplitPlanner: Sendable {
    var costModel: CostModel
    /// Render slots of the fleet (at least 1).
    var slots: Int
    var minimumPieceSeconds: Double = 3
    /// A scene is cut only when it is this many pieces long or more.
    var splitFactor: Double = 1.5
    /// Whether to cut further so that the fleet's slots finish together.
    var balance = true
    /// Dispatch the piece that opens the video first, whatever the balance says, cut in two when
    /// it is long enough: with growing playlists, the video is watchable as soon as its first
    /// piece is accepted.
    var headFirst = false

    /// One render task to create.
    struct Piece: Equatable {
        var scene: SceneSpec
        var animations: AnimationRange?
        var frames: Int
        var estimatedSeconds: Double
        /// Position in the video's dispatch order.
        var rank: Int
        var note: String?
    }

    /// A run of one scene's animations, and what it costs beyond the fixed start.
    struct Span: Equatable {
        var scene: Int
        var first: Int
        var last: Int
        var cost: Double
        /// Whether the balancer may cut it further.
        var splittable: Bool
    }

    func pieces(scenes: [SceneSpec], plans: [ScenePlan], quality: Quality, split: Bool) -> [Piece] {
        let costs = plans.map { plan in plan.animations.map { costModel.estimate(frames: $0.frames, quality: quality) - costModel.fixedSeconds } }
        let total = costs.joined().reduce(0, +) + Double(plans.count) * costModel.fixedSeconds
        let target = max(minimumPieceSeconds, total / Double(2 * max(slots, 1)))
        var spans: [Span] = []
        var notes: [Int: String] = [:]
        for (index, plan) in plans.enumerated() {
            let sceneCost = costs[index].reduce(0, +)
            // The sound track is made once for the whole video from the plan's sounds, so ranges need not carry them.
            let soundsKnown = !plan.sounds || plan.soundEvents != nil
            let whole = Span(scene: index, first: 0, last: max(plan.animations.count - 1, 0), cost: sceneCost,
                             splittable: split && soundsKnown && plan.animations.count > 1)
            if split, !soundsKnown, plan.animations.count > 1, sceneCost >= target * splitFactor {
                notes[index] = "rendered whole: the scene adds sounds its plan does not list (an older agent planned it)"
            }
            guard whole.splittable, sceneCost >= target * splitFactor else {
                spans.append(whole)
                continue
            }
            // Never more pieces than animations (plans are bounded, so the ratio is finite).
            let count = min((sceneCost / target).rounded(), Double(plan.animations.count))
            spans += cut(whole, costs[index], into: max(1, Int(count)))
        }
        if headFirst, split, let head = spans.first, head.scene == 0, head.first == 0, head.last > head.first, head.splittable,
           head.cost >= 2 * minimumPieceSeconds {
            // The first playable segment waits for the whole head piece: halve it (at an animation boundary).
            spans.replaceSubrange(0...0, with: cut(head, costs[0], into: 2))
        }
        var order = split && balance ? dispatchOrder(spans, costs: costs) : spans.sorted(by: Self.longerFirst)
        if headFirst, let head = order.firstIndex(where: { $0.scene == 0 && $0.first == 0 }) {
            order.insert(order.remove(at: head), at: 0)
        }
        let pieces = order.enumerated().map { rank, span in
            let plan = plans[span.scene]
            let isWhole = span.first == 0 && span.last >= plan.animations.count - 1
            let frames = plan.animations.isEmpty ? plan.frames
                : plan.animations[span.first...span.last].reduce(0) { $0 + $1.frames }
            return Piece(scene: scenes[span.scene], animations: isWhole ? nil : AnimationRange(first: span.first, last: span.last),
                         frames: frames, estimatedSeconds: span.cost + costModel.fixedSeconds, rank: rank, note: notes[span.scene])
        }
        // Playback order: task ordinals follow it, and packaging joins in ordinal order.
        return zip(order, pieces).sorted { ($0.0.scene, $0.0.first) < ($1.0.scene, $1.0.first) }.map(\.1)
    }

    /// Cuts a span at animation boundaries into `count` runs of about equal cost.
    func cut(_ span: Span, _ costs: [Double], into count: Int) -> [Span] {
        let share = span.cost / Double(count)
        var pieces: [Span] = []
        var first = span.first, cost = 0.0
        for index in span.first...span.last {
            cost += costs[index]
            let remaining = span.last - index
            let piecesLeft = count - pieces.count - 1
            if remaining == 0 || (cost >= share * 0.95 && piecesLeft > 0) {
                pieces.append(Span(scene: span.scene, first: first, last: index, cost: cost, splittable: index > first))
                first = index + 1
                cost = 0
            }
        }
        return pieces
    }
}
