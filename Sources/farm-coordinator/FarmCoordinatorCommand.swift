import ArgumentParser
import Coordinator
import FarmStorage
import FarmLogging
import FarmTracing
import Foundation
import Logging
import ObjectStorage

@main
struct FarmCoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "farm-coordinator",
        abstract: "The ManimFarm coordinator: the agents' ZeroMQ endpoint and the HTTP API.",
        subcommands: [Serve.self, UsersCommand.self, APIKeysCommand.self, AgentKeysCommand.self, KeyCommand.self, FleetKeysCommand.self,
                      BackupCommand.self, RestoreCommand.self], defaultSubcommand: Serve.self)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the coordinator (the default subcommand).")

    @Option(name: .customLong("zmq"), help: "ZeroMQ endpoint(s) agents connect to.")
    var zmqEndpoints: [String] = ["tcp://*:5555"]

    @Option(help: "HTTP listen address, HOST:PORT.")
    var http = "127.0.0.1:8080"

    @Option(help: "Folder for the database, staged segments and published videos.")
    var dataDir = "farm-data"

    @Option(help: "PostgreSQL URL (postgres://user:password@host:port/db); default $FARM_DATABASE_URL, else embedded SQLite in --data-dir.")
    var database: String?

    @Option(help: "Python used to parse scripts (Manim is not needed for that; with script generation on, it lists Manim's API and must import Manim).")
    var python = "python3"

    @Option(help: "Seconds without a heartbeat before an agent is declared lost.")
    var leaseSeconds = 5.0

    @Option(help: "Agent-side failures a scene may have before its video fails.")
    var maxAttempts = 3

    @Option(help: "Seconds a video may wait when no connected agent may take its tasks (each blocklisted for it, or LaTeX none has) before it fails saying so. With no agent connected it waits.")
    var unplaceableWaitSeconds = 60.0

    @Option(help: "Wall-clock limit of one render, in seconds.")
    var renderTimeout = 3_600

    @Option(help: "Limit on time without a new frame, in seconds.")
    var noProgressTimeout = 300

    @Option(help: "Memory limit of one render, in MiB.")
    var renderMemoryMib = 8_192

    @Option(help: "Shortest estimated render, in seconds, worth an animation range of its own when splitting long scenes.")
    var minimumPieceSeconds = 3.0

    @Flag(inversion: .prefixedNo, help: "Plan videos and split long scenes into animation ranges.")
    var splitScenes = true

    @Flag(inversion: .prefixedNo, help: "Reuse finished renders with the same content hash.")
    var renderCache = true

    @Option(help: "Most MiB the render cache keeps; the least recently used renders are evicted beyond it.")
    var renderCacheLimitMib = 20_480.0

    @Option(help: "Scaling signal: pending work should drain within this many seconds.")
    var targetDrainSeconds = 600.0

    @Option(help: "Scaling signal: fewest and most agents.")
    var minAgents = 0
    @Option(help: "Scaling signal: most agents.")
    var maxAgents = 50

    @Option(help: "Scaling signal: assumed render seconds of a task until some have finished.")
    var defaultTaskSeconds = 60.0

    @Option(help: "Steer this AWS auto-scaling group of agents from the scaling signal.")
    var autoscalingGroup: String?

    @Option(help: "AWS region of the auto-scaling group.")
    var awsRegion = ProcessInfo.processInfo.environment["AWS_REGION"] ?? "us-east-1"

    @Option(help: "Auto Scaling API endpoint (default: the region's; for tests, a local server).")
    var awsEndpoint: String?

    @Option(help: "Instance metadata service for the instance role's credentials (default: AWS_* variables, else 169.254.169.254).")
    var awsMetadataEndpoint: String?

    @Option(help: "Seconds between auto-scaling decisions.")
    var scaleInterval = 15.0

    @Option(help: "The coordinator's CurveZMQ secret key file (default: generated in --data-dir's keys/). Every coordinator agents fail over to needs the same key.")
    var secretKeyFile: String?

    @Option(help: "File of admitted agents' public keys (default: --data-dir's keys/authorized_agents).")
    var authorizedAgents: String?

    @Flag(help: "Plain ZeroMQ without CurveZMQ: any process that reaches the port can act as an agent. Tests of the plain protocol only.")
    var insecurePlainZmq = false

    @Flag(help: "No API keys on a loopback address: every request acts as the first admin. Refused on any other address.")
    var noAuth = false

    @Flag(help: "No API keys on any address, even a public one: anyone who reaches the port is an admin.")
    var insecureNoAuth = false

    @Option(help: "An origin (https://host[:port]) allowed to call the API from a browser; repeat for more. None by default.")
    var corsOrigin: [String] = []

    @Option(help: "Where published videos go: `local` (the data folder, default) or s3://BUCKET/PREFIX, an S3-compatible object store that agents upload segments to directly.")
    var storage = "local"

    @Option(help: "The object store's endpoint, for stores other than AWS S3 (http://127.0.0.1:9000).")
    var s3Endpoint: String?

    @Option(help: "The object store's region (default: $AWS_REGION, else us-east-1).")
    var s3Region: String?

    @Flag(help: "Address objects as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY (most non-AWS stores).")
    var s3PathStyle = false

    @Option(help: "Key prefix of attempts' uploads in the bucket: never published, expired by the bucket's lifecycle rule.")
    var s3StagingPrefix = "staging/"

    @Option(help: "The CDN in front of the bucket (https://d1234.cloudfront.net): status and `farm submit` print URLs under it.")
    var publicUrl: String?

    @Option(help: "Write the listening HTTP port and ZeroMQ endpoints as JSON to this file once ready.")
    var readyFile: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "text (for terminals) or json (one object per line, for log stores); default $FARM_LOG_FORMAT, else text.")
    var logFormat: String?

    @Option(help: "Send traces to this OpenTelemetry collector (OTLP/HTTP, e.g. http://127.0.0.1:4318); default $OTEL_EXPORTER_OTLP_ENDPOINT, else off.")
    var otlpEndpoint: String?

    @OptionGroup(title: "Script generation")
    var generation: GenerationOptions

    func run() async throws {
        // A peer that closes its end of a pipe or socket (a child killed mid-write, a client gone) is an
        // error for that write, never a signal that ends the process. Children get the default back.
        signal(SIGPIPE, SIG_IGN)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        guard let format = LogFormat.resolve(logFormat) else { throw ValidationError("--log-format takes text or json") }
        format.bootstrap(service: "coordinator", level: level, fields: [:])
        let tracer = try TraceExport.bootstrap(endpoint: otlpEndpoint, service: "manimfarm-coordinator")
        guard let (host, port) = HostPort.parse(http) else {
            throw ValidationError("--http must be HOST:PORT, got \(http)")
        }
        if noAuth && !insecureNoAuth && !HostPort.isLoopback(host) {
            throw ValidationError(
                "--no-auth is for loopback addresses; \(host) can be reached from other hosts. Keep authentication on, or say --insecure-no-auth")
        }
        for origin in corsOrigin {
            guard let url = URL(string: origin), ["http", "https"].contains(url.scheme), url.host != nil, url.path.isEmpty else {
                throw ValidationError("--cors-origin takes an origin such as https://studio.example.com, got \(origin)")
            }
        }
        var configuration = CoordinatorServer.Configuration(
            dataDirectory: URL(fileURLWithPath: dataDir, isDirectory: true))
        configuration.zmqEndpoints = zmqEndpoints
        configuration.httpHost = host
        configuration.httpPort = port
        configuration.engine.python = python
        configuration.engine.databaseURL = database ?? ProcessInfo.processInfo.environment["FARM_DATABASE_URL"]
        configuration.engine.scaling.targetDrainSeconds = targetDrainSeconds
        configuration.engine.scaling.minAgents = minAgents
        configuration.engine.scaling.maxAgents = maxAgents
        configuration.engine.scaling.defaultTaskSeconds = defaultTaskSeconds
        configuration.metrics = CoordinatorServer.bootstrapMetrics()
        if let autoscalingGroup {
            // Environment credentials if set, else the instance role through the metadata service.
            let credentials = awsMetadataEndpoint.flatMap(URL.init(string:)).map { AWSCredentialsProvider(.instanceMetadata($0)) }
                ?? AWSCredentialsProvider.automatic()
            var autoscaling = AutoscalerConfiguration(group: autoscalingGroup, client: AWSAutoScaling(
                region: awsRegion, credentials: credentials, endpoint: awsEndpoint.flatMap(URL.init(string:))))
            autoscaling.interval = .milliseconds(Int(scaleInterval * 1_000))
            configuration.autoscaling = autoscaling
        }
        if storage != "local" {
            guard let (bucket, prefix) = ObjectOutputConfiguration.parse(storage) else {
                throw ValidationError("--storage takes `local` or s3://BUCKET/PREFIX, got \(storage)")
            }
            let endpoint = try s3Endpoint.map { try Self.httpURL($0, option: "--s3-endpoint") }
            let publicBase = try publicUrl.map { try Self.httpURL($0, option: "--public-url") }
            let region = s3Region ?? ProcessInfo.processInfo.environment["AWS_REGION"] ?? "us-east-1"
            // Environment, then AWS_PROFILE, then the instance role: the same provider the autoscaler uses.
            let credentials = awsMetadataEndpoint.flatMap(URL.init(string:)).map { AWSCredentialsProvider(.instanceMetadata($0)) }
                ?? AWSCredentialsProvider.automatic()
            let client = S3Client(.init(bucket: bucket, region: region, endpoint: endpoint, pathStyle: s3PathStyle),
                                  credentials: credentials)
            configuration.engine.objectOutputs = ObjectOutputConfiguration(
                client: client, prefix: prefix, stagingPrefix: s3StagingPrefix, publicBaseURL: publicBase)
        }
        configuration.curve = !insecurePlainZmq
        configuration.api.requireAuth = !(noAuth || insecureNoAuth)
        configuration.api.corsOrigins = Set(corsOrigin)
        configuration.secretKeyFile = secretKeyFile.map { URL(fileURLWithPath: $0) }
        configuration.authorizedAgentsFile = authorizedAgents.map { URL(fileURLWithPath: $0) }
        configuration.engine.lease = .milliseconds(Int(leaseSeconds * 1_000))
        configuration.engine.maxAttempts = maxAttempts
        configuration.engine.unplaceableWait = .milliseconds(Int(max(unplaceableWaitSeconds, 0) * 1_000))
        configuration.engine.minimumPieceSeconds = minimumPieceSeconds
        configuration.engine.splitScenes = splitScenes
        configuration.engine.renderCache = renderCache
        configuration.engine.renderCacheLimitBytes = Int(max(renderCacheLimitMib, 0) * 1_048_576)
        configuration.engine.limits.wallSeconds = renderTimeout
        configuration.engine.limits.noProgressSeconds = noProgressTimeout
        configuration.engine.limits.memoryBytes = Int64(renderMemoryMib) << 20
        configuration.generation = try generation.settings()
        do {
            try await serve(configuration, host: host)
            await tracer?.flush()
        } catch is PostgresLeaderLease.LeadershipLost {
            await tracer?.flush()
            // Another coordinator leads now: exit so the supervisor restarts this one as a standby.
            throw ExitCode(75)
        }
    }

    static func httpURL(_ text: String, option: String) throws -> URL {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme), url.host != nil else {
            throw ValidationError("\(option) takes an http(s) URL, got \(text)")
        }
        return url
    }

    private func serve(_ configuration: CoordinatorServer.Configuration, host: String) async throws {
        let readyFile = readyFile
        try await CoordinatorServer(configuration: configuration).run { httpPort, endpoints in
            let ready = ["http": "http://\(host):\(httpPort)", "zmq": endpoints.joined(separator: ",")]
            if let readyFile, let data = try? JSONEncoder().encode(ready) {
                try? data.write(to: URL(fileURLWithPath: readyFile), options: .atomic)
            }
            Logger(label: "farm.coordinator").notice("coordinator ready", metadata: [
                "http": "http://\(host):\(httpPort)", "zmq": "\(endpoints.joined(separator: ", "))",
            ])
        }
    }
}

enum HostPort {
    static func parse(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65_535).contains(port) else { return nil }
        let host = String(text[..<colon])
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// Whether `host` is reachable from this machine only.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}
