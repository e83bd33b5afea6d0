import FarmStorage
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Teams' usage not yet written to the store: agent time (from the core's `.meterRenderTime`)
/// and published bytes (from assembly). The engine adds without waiting; `UsageService` writes.
public final class UsageMeter: Sendable {
    static let renderSeconds = "render-seconds"
    /// A running total, in the window that starts at 0.
    static let storageBytes = "storage-bytes"

    private let pending = Mutex<[String: (seconds: Double, bytes: Double)]>([:])

    public init() {}

    func addRenderTime(team: String, seconds: Double) {
        guard seconds.isFinite, seconds > 0 else { return }
        pending.withLock { $0[team, default: (0, 0)].seconds += seconds }
    }

    func addStorage(team: String, bytes: Int64) {
        pending.withLock { $0[team, default: (0, 0)].bytes += Double(bytes) }
    }

    /// Everything pending, emptied.
    func take() -> [String: (seconds: Double, bytes: Double)] {
        pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
    }

    /// Puts back what could not be written.
    func restore(_ usage: [String: (seconds: Double, bytes: Double)]) {
        pending.withLock { pending in
            for (team, amounts) in usage {
                pending[team, default: (0, 0)].seconds += amounts.seconds
                pending[team, default: (0, 0)].bytes += amounts.bytes
            }
        }
    }

    /// The start of the UTC day of `date`, in seconds since 1970: the render-seconds window.
    static func day(of date: Date) -> Int64 {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        return seconds - seconds % 86_400
    }
}

/// Writes metered usage to the store every few seconds (and at shutdown), and tells the core each
/// active team's render time today against its quota, so a video planned beyond it is refused.
struct UsageService: Service {
    let engine: FarmEngine
    let store: any AccountStore
    var interval: Duration = .seconds(5)
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await round()
                try? await Task.sleep(for: interval)
            }
        }
        await flush()  // what the last renders used, before the store's client stops
    }

    func round() async {
        await flush()
        do {
            var budgets: [String: RenderBudget] = [:]
            for teamID in await engine.activeTeamIDs() {
                guard let team = try await store.team(teamID) else { continue }
                let used = try await store.usage(teamID: teamID, counter: UsageMeter.renderSeconds, windowStart: UsageMeter.day(of: Date()))
                budgets[teamID] = RenderBudget(usedSeconds: used, limitSeconds: team.quotas.renderSecondsPerDay)
            }
            await engine.apply(.renderBudgets(budgets))
        } catch {
            logger.warning("could not read teams' render time; quotas use the last counts", metadata: ["error": "\(error)"])
        }
    }

    func flush() async {
        let usage = engine.usage.take()
        guard !usage.isEmpty else { return }
        var unwritten: [String: (seconds: Double, bytes: Double)] = [:]
        let today = UsageMeter.day(of: Date())
        for (team, amounts) in usage {
            do {
                if amounts.seconds > 0 {
                    _ = try await store.addUsage(teamID: team, counter: UsageMeter.renderSeconds, windowStart: today,
                                                 amount: amounts.seconds, discardBefore: nil)
                }
                if amounts.bytes != 0 {
                    _ = try await store.addUsage(teamID: team, counter: UsageMeter.storageBytes, windowStart: 0,
                                                 amount: amounts.bytes, discardBefore: nil)
                }
            } catch {
                unwritten[team] = amounts
            }
        }
        if !unwritten.isEmpty {
            engine.usage.restore(unwritten)
            logger.warning("could not write teams' usage; kept for the next round", metadata: ["teams": "\(unwritten.count)"])
        }
    }
}
