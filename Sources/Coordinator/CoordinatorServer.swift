import FarmStorage
import FarmProtocol
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import ZeroMQ

/// Everything a coordinator runs: the engine, the agents' ZeroMQ gateway and
/// the HTTP API, started together and shut down gracefully by one ServiceGroup.
public struct CoordinatorServer: Sendable {
    /// Where to listen and where to keep state.
    public struct Configuration: Sendable {
        public var engine: EngineConfiguration
        /// ZeroMQ endpoints agents connect to.
        public var zmqEndpoints: [String] = ["tcp://*:5555"]
        public var httpHost = "127.0.0.1"
        public var httpPort = 8080
        /// Where `/metrics` reads from; see `bootstrapMetrics()`.
        public var metrics = PrometheusCollectorRegistry()
        /// Drive an AWS auto-scaling group of agents from the scaling signal.
        public var autoscaling: AutoscalerConfiguration?
        /// CurveZMQ for the agents' socket: on unless a test of the plain protocol turns it off.
        public var curve = true
        /// The coordinator's secret key file (default: generated under the data folder's `keys/`).
        public var secretKeyFile: URL?
        /// The admitted agents' keys (default: `keys/authorized_agents` under the data folder).
        public var authorizedAgentsFile: URL?
        /// Authentication, CORS and priority caps of the HTTP API.
        public var api = APISettings()
        /// Scripts written by a language model from prompts (`POST /v1/generations`); off when absent.
        public var generation: GenerationSettings?

        public init(dataDirectory: URL) {
            engine = EngineConfiguration(dataDirectory: dataDirectory)
        }
    }

    public var configuration: Configuration
    public var logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "farm.coordinator")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Builds the coordinator's service group: the store's client and the leader lease (with
    /// PostgreSQL), the store writer, and the active coordinator (migrations, resume, the
    /// agents' gateway, the engine's clock and the HTTP API), which starts once this process
    /// leads. Shutdown runs in reverse: the API and gateway stop, the writer writes what is
    /// queued, then the lease and the store's client end. `onReady` receives the HTTP port
    /// and the bound ZeroMQ endpoints once this coordinator serves.
    public func serviceGroup(
        context: ZMQContext, onReady: @escaping @Sendable (_ httpPort: Int, _ zmq: [String]) async -> Void = { _, _ in }
    ) throws -> ServiceGroup {
        let dataDirectory = configuration.engine.dataDirectory
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        let leadership = Gate()
        let store: any CoordinatorStore
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let url = configuration.engine.databaseURL {
            let postgres = try PostgresStore(url: url, logger: logger)
            store = postgres
            services.append(.init(service: postgres))
            // Losing the lock ends the group: two leaders must never act together.
            services.append(.init(service: PostgresLeaderLease(store: postgres, logger: logger) { leadership.open() },
                                  failureTerminationBehavior: .gracefullyShutdownGroup))
        } else {
            store = try SQLiteStore(path: configuration.engine.databasePath)
            leadership.open()  // an embedded store has one coordinator
        }
        let engine = FarmEngine(configuration: configuration.engine, store: store, logger: logger)
        services.append(.init(service: engine.writer))
        services.append(.init(service: ActiveCoordinator(
            server: self, engine: engine, store: store, context: context, leadership: leadership, onReady: onReady)))
        return ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    }

    /// The services that serve once the engine has started: the ZAP handler, the agents'
    /// gateway, the engine's clock, the HTTP API and the autoscaler.
    func servingServices(
        engine: FarmEngine, accounts: Accounts, store: any CoordinatorStore, context: ZMQContext, onReady: @escaping @Sendable (_ httpPort: Int, _ zmq: [String]) async -> Void
    ) throws -> [any Service] {
        let dataDirectory = configuration.engine.dataDirectory
        var security: [any Service] = []
        var secretKey: String?
        if configuration.curve {
            let keys = try CoordinatorKeys.load(dataDirectory: dataDirectory, secretKeyFile: configuration.secretKeyFile,
                                                authorizedAgents: configuration.authorizedAgentsFile)
            // Bound before the gateway's socket: no handshake may happen without it.
            security.append(try ZAPHandler(context: context, keyring: AgentKeyring(path: keys.authorizedAgents), logger: logger))
            secretKey = keys.secretKey
            logger.notice("agents authenticate with CurveZMQ", metadata: [
                "coordinatorKey": "\(keys.publicKey)", "authorizedAgents": "\(keys.authorizedAgents.path)",
            ])
        } else {
            logger.critical("CurveZMQ off: any process that reaches the ZeroMQ port can act as an agent")
        }
        let gateway = try AgentGateway(
            endpoints: configuration.zmqEndpoints, engine: engine, context: context, secretKey: secretKey, logger: logger)
        let endpoints = gateway.socket.boundEndpoints
        let generations = Generations(settings: configuration.generation, engine: engine, store: store, logger: logger)
        var personalData = PersonalData(engine: engine, accounts: accounts, store: store, logger: logger)
        personalData.generations = generations
        var api = FarmAPI(engine: engine, accounts: accounts, personalData: personalData, metrics: configuration.metrics,
                          publishedDirectory: configuration.engine.publishedDirectory,
                          maxRequestBytes: configuration.engine.maxScriptBytes * 2 + AssetFile.maxTotalBytes / 3 * 4 + 262_144, settings: configuration.api)
        api.objectOutputs = configuration.engine.objectOutputs
        api.generations = generations
        if !configuration.api.requireAuth {
            logger.critical("HTTP authentication off: every request acts as the first admin")
        }
        let app = Application(
            router: api.router(),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort),
                                 serverName: "manimfarm"),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0, endpoints) },
            logger: logger)
        var services: [any Service] = security + [gateway, EngineService(engine: engine), app,
                                                  RetentionService(personalData: personalData, logger: logger),
                                                  UsageService(engine: engine, store: store, logger: logger),
                                                  KeyExpiryWatch(store: store, logger: logger),
                                                  GenerationService(generations: generations),
                                                  DataDiskWatch(folder: configuration.engine.dataDirectory, logger: logger)]
        if let autoscaling = configuration.autoscaling {
            services.append(Autoscaler(configuration: autoscaling, engine: engine, logger: logger))
        }
        return services
    }

    /// Where the first admin's API key is written when the coordinator starts on an empty store.
    public static func adminKeyFile(dataDirectory: URL) -> URL {
        CoordinatorKeys.folder(dataDirectory: dataDirectory).appendingPathComponent("admin.key")
    }

    /// Routes this process's swift-metrics into a Prometheus registry and returns it,
    /// for `Configuration.metrics`. Call once per process.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        FarmMetrics.bootstrap(registry)
        return registry
    }

    /// Runs until SIGTERM or SIGINT, then shuts down gracefully.
    public func run(onReady: @escaping @Sendable (_ httpPort: Int, _ zmq: [String]) async -> Void = { _, _ in }) async throws {
        let context = try ZMQContext()
        try await serviceGroup(context: context, onReady: onReady).run()
    }
}
