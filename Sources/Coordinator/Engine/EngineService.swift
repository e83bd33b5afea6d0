import FarmModel
import Foundation
import ServiceLifecycle

/// Drives the engine's clock: lease expiry, dispatch, metrics. (Agents hear
/// from the coordinator through the answer to each of their heartbeats.)
struct EngineService: Service {
    let engine: FarmEngine
    /// How often leases are checked; bounds how late a lost agent is noticed.
    let tick: Duration = .milliseconds(250)

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await engine.expireLeases()
                await engine.dispatch()
                await engine.publishMetrics()
                try await Task.sleep(for: tick)
            }
        }
    }
}
