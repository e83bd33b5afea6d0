import FarmProtocol
import FarmStorage
import Foundation

/// Turns a planned video into render tasks: whole scenes, and long scenes cut
/// into animation ranges so that no single piece holds up the video.
///
/// A piece should be about `1 / (2 × slots)` of the video's estimated work (so
/// the fleet finishes together) but not shorter than `minimumPieceSeconds`
/// (each range pays a fixed start and replays the animations before it).
struct SplitPlanner: Sendable {
    var costModel: CostModel
    /// Render slots of the fleet (at least 1).
    var slots: Int
    var minimumPieceSeconds: Double = 3
    /// A scene is cut only when it is this many pieces long or more.
    var splitFactor: Double = 1.5

    /// One render task to create.
    struct Piece: Equatable {
        var scene: SceneSpec
        var animations: AnimationRange?
        var frames: Int
        var estimatedSeconds: Double
        var note: String?
    }

    func pieces(scenes: [SceneSpec], plans: [ScenePlan], quality: Quality, split: Bool) -> [Piece] {
        let costs = plans.map { plan in plan.animations.map { costModel.estimate(frames: $0.frames, quality: quality) - costModel.fixedSeconds } }
        let total = costs.joined().reduce(0, +) + Double(plans.count) * costModel.fixedSeconds
        let target = max(minimumPieceSeconds, total / Double(2 * max(slots, 1)))
        var pieces: [Piece] = []
        for (index, spec) in scenes.enumerated() {
            let plan = plans[index]
            let sceneCost = costs[index].reduce(0, +)
            let whole = Piece(scene: spec, animations: nil, frames: plan.frames,
                              estimatedSeconds: sceneCost + costModel.fixedSeconds, note: nil)
            guard split, sceneCost >= target * splitFactor, plan.animations.count > 1 else {
                pieces.append(whole)
                continue
            }
            if plan.sounds {
                var note = whole
                note.note = "rendered whole: the scene adds sounds, which an animation range would drop or misplace"
                pieces.append(note)
                continue
            }
            pieces += cut(spec, plan, costs[index], target: target)
        }
        return pieces
    }

    /// Cuts a scene at animation boundaries into runs of about `target` seconds each.
    private func cut(_ spec: SceneSpec, _ plan: ScenePlan, _ costs: [Double], target: Double) -> [Piece] {
        let count = max(1, Int((costs.reduce(0, +) / target).rounded()))
        let share = costs.reduce(0, +) / Double(count)
        var pieces: [Piece] = []
        var first = 0, cost = 0.0, frames = 0
        for (index, animationCost) in costs.enumerated() {
            cost += animationCost
            frames += plan.animations[index].frames
            let remaining = costs.count - index - 1
            let piecesLeft = count - pieces.count - 1
            let isLast = remaining == 0
            if isLast || (cost >= share * 0.95 && piecesLeft > 0 && remaining >= 1) {
                pieces.append(Piece(scene: spec, animations: AnimationRange(first: first, last: index), frames: frames,
                                    estimatedSeconds: cost + costModel.fixedSeconds, note: nil))
                first = index + 1
                cost = 0
                frames = 0
            }
        }
        return pieces
    }
}
