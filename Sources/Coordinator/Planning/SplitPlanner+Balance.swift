extension SplitPlanner {
    /// How far past its level a slot may be filled, and how close below it counts as full.
    static let fillTolerance = 0.5

    /// The order in which `spans` should be dispatched so that the fleet's
    /// slots finish together, cutting pieces further where that helps.
    ///
    /// Dispatch is list scheduling: whichever slot frees first takes the next
    /// task. So the planner fills slots on paper up to a common level,
    /// longest pieces first, cutting the piece that crosses the level at an
    /// animation boundary and carrying the rest to the next slot (McNaughton's
    /// wrap-around rule), then orders the pieces by their planned start. It
    /// tries a range of levels just above the ideal one, replays each order
    /// through list scheduling, and keeps the order that finishes first,
    /// preferring fewer pieces and longest-first order (which absorbs
    /// estimates that are off: the short pieces come last). The uncut pieces
    /// longest first are one of the candidates, so balancing never plans a
    /// later finish than no balancing.
    func dispatchOrder(_ spans: [Span], costs: [[Double]]) -> [Span] {
        let longestFirst = spans.sorted(by: Self.longerFirst)
        let fleet = max(slots, 1)
        guard fleet > 1, spans.count > 1 else { return longestFirst }
        var best = (order: longestFirst, score: makespan(of: longestFirst, slots: fleet))
        let work = spans.reduce(0) { $0 + $1.cost + costModel.fixedSeconds }
        let longestWhole = spans.filter { !$0.splittable }.map(\.cost).max().map { $0 + costModel.fixedSeconds } ?? 0
        let ideal = max(work / Double(fleet), longestWhole)
        for step in 0...40 {
            guard let placed = fill(spans, costs: costs, level: ideal * (1 + 0.0025 * Double(step)), slots: fleet) else { continue }
            let planned = placed.sorted { $0.start != $1.start ? $0.start < $1.start : Self.longerFirst($0.span, $1.span) }.map(\.span)
            // The planned order may start a long piece late: it must finish clearly sooner to be chosen.
            for (order, handicap) in [(planned.sorted(by: Self.longerFirst), 1.0), (planned, 1.02)] {
                let score = makespan(of: order, slots: fleet) * handicap
                if score < best.score - 0.01 || (score < best.score + 0.01 && order.count < best.order.count) {
                    best = (order, score)
                }
            }
        }
        return best.order
    }

    /// When the last slot finishes if `order` is dispatched to `slots` slots,
    /// each taking the next piece as soon as it is free.
    func makespan(of order: [Span], slots: Int) -> Double {
        var free = SlotHeap(count: slots)
        var finish = 0.0
        for span in order {
            let end = free.popEarliest() + span.cost + costModel.fixedSeconds
            free.push(end)
            finish = max(finish, end)
        }
        return finish
    }

    /// Fills `slots` slots one after another up to `level` seconds each, from
    /// the longest piece down, cutting at animation boundaries; `nil` if the
    /// pieces do not fit under that level.
    func fill(_ spans: [Span], costs: [[Double]], level: Double, slots: Int) -> [(start: Double, span: Span)]? {
        let tolerance = Self.fillTolerance
        let fixed = costModel.fixedSeconds
        var queue = PieceQueue(spans)
        var placed: [(start: Double, span: Span)] = []
        for _ in 0..<slots {
            var load = 0.0
            while let head = queue.longest {
                if load + head.cost + fixed <= level + tolerance {
                    placed.append((load, queue.removeLongest()))
                    load += head.cost + fixed
                    continue
                }
                let cut = prefix(of: head, costs[head.scene], fitting: level - load)
                if let (piece, rest) = cut, load + piece.cost + fixed >= level - tolerance {
                    placed.append((load, piece))
                    queue.replaceLongest(with: rest)
                    break
                }
                if let smaller = queue.removeLongest(fitting: level + tolerance - load - fixed) {
                    placed.append((load, smaller))
                    load += smaller.cost + fixed
                    continue
                }
                if let (piece, rest) = cut {
                    placed.append((load, piece))
                    queue.replaceLongest(with: rest)
                }
                break
            }
        }
        return queue.isEmpty ? placed : nil
    }

    /// The longest run of `span`'s first animations that fits in `room`
    /// seconds (with its fixed start), leaving both parts at least
    /// `minimumPieceSeconds` long.
    func prefix(of span: Span, _ costs: [Double], fitting room: Double) -> (Span, Span)? {
        guard span.splittable, span.last > span.first else { return nil }
        let fixed = costModel.fixedSeconds
        var before = 0.0
        var best: (last: Int, cost: Double)?
        for index in span.first..<span.last {
            before += costs[index]
            if before + fixed > room + Self.fillTolerance { break }
            if before + fixed >= minimumPieceSeconds, span.cost - before + fixed >= minimumPieceSeconds {
                best = (index, before)
            }
        }
        guard let best else { return nil }
        return (Span(scene: span.scene, first: span.first, last: best.last, cost: best.cost, splittable: best.last > span.first),
                Span(scene: span.scene, first: best.last + 1, last: span.last, cost: span.cost - best.cost,
                     splittable: span.last > best.last + 1))
    }

    /// Longest first; ties in playback order, so plans are deterministic.
    static func longerFirst(_ a: Span, _ b: Span) -> Bool {
        a.cost != b.cost ? a.cost > b.cost : (a.scene, a.first) < (b.scene, b.first)
    }
}

/// Pieces waiting to be placed, longest at the end of an ascending array.
private struct PieceQueue {
    private var ascending: [SplitPlanner.Span]

    init(_ spans: [SplitPlanner.Span]) {
        ascending = spans.sorted { SplitPlanner.longerFirst($1, $0) }
    }

    var isEmpty: Bool { ascending.isEmpty }
    var longest: SplitPlanner.Span? { ascending.last }

    mutating func removeLongest() -> SplitPlanner.Span {
        ascending.removeLast()
    }

    /// Puts the rest of a cut piece back where it belongs.
    mutating func replaceLongest(with rest: SplitPlanner.Span) {
        ascending.removeLast()
        let index = insertionIndex(of: rest)
        ascending.insert(rest, at: index)
    }

    /// Removes the longest piece no longer than `seconds` (cost, without the fixed start).
    mutating func removeLongest(fitting seconds: Double) -> SplitPlanner.Span? {
        var low = 0, high = ascending.count
        while low < high {
            let middle = (low + high) / 2
            if ascending[middle].cost <= seconds { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : ascending.remove(at: low - 1)
    }

    private func insertionIndex(of span: SplitPlanner.Span) -> Int {
        var low = 0, high = ascending.count
        while low < high {
            let middle = (low + high) / 2
            if SplitPlanner.longerFirst(span, ascending[middle]) { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A binary min-heap of the times at which slots become free.
struct SlotHeap {
    private var times: [Double]

    init(count: Int) {
        times = Array(repeating: 0, count: count)
    }

    mutating func popEarliest() -> Double {
        let earliest = times[0]
        let last = times.removeLast()
        guard !times.isEmpty else { return earliest }
        times[0] = last
        var index = 0
        while true {
            let left = 2 * index + 1, right = left + 1
            var smallest = index
            if left < times.count, times[left] < times[smallest] { smallest = left }
            if right < times.count, times[right] < times[smallest] { smallest = right }
            guard smallest != index else { break }
            times.swapAt(index, smallest)
            index = smallest
        }
        return earliest
    }

    mutating func push(_ time: Double) {
        times.append(time)
        var index = times.count - 1
        while index > 0, times[(index - 1) / 2] > times[index] {
            times.swapAt(index, (index - 1) / 2)
            index = (index - 1) / 2
        }
    }
}
