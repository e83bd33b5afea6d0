import Foundation
import ServiceLifecycle

/// Drives the engine's clock: heartbeats to agents, lease expiry, dispatch.
struct EngineService: Service {
    let engine: FarmEngine
    let heartbeat: Duration
    /// How often leases are checked; bounds how late a lost agent is noticed.
    let tick: Duration = .milliseconds(250)

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            var lastHeartbeat = ContinuousClock.now - heartbeat
            while !Task.isCancelled {
                if ContinuousClock.now - lastHeartbeat >= heartbeat {
                    await engine.heartbeatAgents()
                    lastHeartbeat = .now
                }
                await engine.expireLeases()
                await engine.dispatch()
                await engine.publishMetrics()
                try await Task.sleep(for: tick)
            }
        }
    }
}
