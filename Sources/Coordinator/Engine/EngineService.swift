import Foundation
import ServiceLifecycle

/// Drives the engine: its clock (lease expiry, the periodic dispatch round,
/// metrics), the dispatch rounds handlers ask for, and the slow work they start
/// (assembly), all as children of one task group, so nothing outlives it. On
/// graceful shutdown it stops taking new work and waits for assemblies in flight.
/// (Agents hear from the coordinator through the answer to each of their heartbeats.)
struct EngineService: Service {
    let engine: FarmEngine
    /// How often leases are checked; bounds how late a lost agent is noticed.
    let tick: Duration = .milliseconds(250)

    func run() async {
        let stopping = Gate()
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    // Cancelled (its group failed) rather than shut down: stop too, or the timed wait below returns at once for ever.
                    while !stopping.isOpen && !Task.isCancelled {
                        await engine.expireLeases()
                        await engine.dispatch()
                        await engine.publishMetrics()
                        _ = await stopping.wait(timeout: tick)
                    }
                }
                group.addTask {
                    for await _ in engine.dispatchRequests { await engine.dispatch() }
                }
                for await work in engine.backgroundWork {
                    group.addTask { await work() }
                }
            }
        } onGracefulShutdown: {
            stopping.open()
            engine.stopIntake()
        }
    }
}
