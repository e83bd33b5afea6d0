import FarmStorage
import Logging
import ServiceLifecycle
import ZeroMQ

/// What runs while this process is the active coordinator: once it leads, the
/// engine migrates the store and resumes unfinished videos, an empty store gets
/// its first admin, then the agents'
/// gateway, the engine's clock and the HTTP API run as one inner service group.
/// A standby waits here without binding any port, so agents and clients reach
/// only the leader.
struct ActiveCoordinator: Service {
    let server: CoordinatorServer
    let engine: FarmEngine
    let store: any CoordinatorStore
    let context: ZMQContext
    let leadership: Gate
    let onReady: @Sendable (_ httpPort: Int, _ zmq: [String]) async -> Void

    func run() async throws {
        let leads = await cancelWhenGracefulShutdown { await leadership.wait() }
        guard leads else { return }  // shut down while standing by
        try await engine.start()
        // After the migrations, before the API serves: an empty store gets its first admin.
        let accounts = Accounts(store: store)
        try await accounts.bootstrap(
            keyFile: CoordinatorServer.adminKeyFile(dataDirectory: server.configuration.engine.dataDirectory), logger: server.logger)
        let services = try server.servingServices(engine: engine, accounts: accounts, store: store, context: context, onReady: onReady)
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, logger: server.logger))
        try await group.run()
    }
}
