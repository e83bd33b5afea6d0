import FarmModel
import FarmProtocol
import Foundation
import Hummingbird
import HummingbirdAuth
import Prometheus

extension VideoStatus: ResponseEncodable {}
extension VideoPage: ResponseEncodable {}
extension AgentStatus: ResponseEncodable {}
extension FarmStats: ResponseEncodable {}
extension UserInfo: ResponseEncodable {}
extension TeamInfo: ResponseEncodable {}
extension KeyInfo: ResponseEncodable {}
extension CreatedKey: ResponseEncodable {}
extension ErasureReport: ResponseEncodable {}
extension RetentionReport: ResponseEncodable {}
extension SessionInfo: ResponseEncodable {}
extension ScriptScenes: ResponseEncodable {}
extension GenerationRecord: ResponseEncodable {}
extension GenerationPage: ResponseEncodable {}

/// One route of the API and the least role that may call it (`nil`: anyone, without a key).
struct APIRoute: Sendable {
    let method: HTTPRequest.Method
    let path: String
    let role: Role?
    let handler: @Sendable (Request, FarmRequestContext) async throws -> Response

    init<Output: ResponseGenerator>(_ method: HTTPRequest.Method, _ path: String, _ role: Role?,
                                    _ handler: @escaping @Sendable (Request, FarmRequestContext) async throws -> Output) {
        self.method = method
        self.path = path
        self.role = role
        self.handler = { request, context in try await handler(request, context).response(from: request, context: context) }
    }
}

/// How the HTTP API guards itself.
public struct APISettings: Sendable {
    /// Every route but `/healthz` needs an API key. Off only with `--no-auth` (loopback) or `--insecure-no-auth`.
    public var requireAuth = true
    /// Origins allowed to call the API from a browser (CORS); none by default.
    public var corsOrigins: Set<String> = []
    /// Highest priority a creator may give its videos: creators cannot jump the queue.
    public var creatorMaxPriority = 0
    /// Priorities anyone may set.
    public var priorityRange = -1_000...1_000

    public init() {}
}

/// The coordinator's HTTP façade: submit, follow and cancel videos; list agents;
/// serve finished outputs; manage accounts. Every route declares its role in `routes`,
/// and the router is built from that table only.
struct FarmAPI: Sendable {
    let engine: FarmEngine
    let accounts: Accounts
    let personalData: PersonalData
    let metrics: PrometheusCollectorRegistry
    let publishedDirectory: URL
    let maxRequestBytes: Int
    var settings = APISettings()
    /// Outputs live in an object store: output routes redirect there.
    var objectOutputs: ObjectOutputConfiguration?
    /// Scripts from prompts; absent (as in router tests without it), the routes say generation is off.
    var generations: Generations?
    /// The text-to-speech service narration uses, for other tools.
    var speechSynthesizer = SpeechSynthesizer()
    /// Open `GET /v1/videos/{id}/events` streams.
    let eventStreams = EventStreams()
    /// The live videos every `GET /v1/events` stream shares.
    let liveFeed = LiveFeed()
    /// The web pages; `nil` when their resources could not be read (the API still serves).
    let webPages = try? WebPages()
    /// How long a request waits for the store (accounts, quotas) before answering 503.
    static let storeDeadline: Duration = .seconds(5)

    var routes: [APIRoute] {
        [
            APIRoute(.get, "/healthz", nil) { _, _ in "ok\n" },
            APIRoute(.get, "/openapi.json", nil) { _, _ in
                Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                         body: .init(byteBuffer: ByteBuffer(bytes: APIDocument.openAPI)))
            },
            APIRoute(.get, "/v1/me", .viewer, me),
            APIRoute(.post, "/v1/videos", .creator, submit),
            APIRoute(.get, "/v1/videos", .viewer, list),
            APIRoute(.get, "/v1/videos/:id", .viewer, status),
            APIRoute(.get, "/v1/videos/:id/events", .viewer, events),
            APIRoute(.get, "/v1/events", .viewer, feed),
            APIRoute(.post, "/v1/scripts/scenes", .creator, scriptScenes),
            APIRoute(.post, "/v1/session", nil, signIn),
            APIRoute(.get, "/v1/session", .viewer, session),
            APIRoute(.delete, "/v1/session", nil, signOut),
            APIRoute(.delete, "/v1/videos/:id", .creator, cancel),
            APIRoute(.get, "/v1/videos/:id/**", .viewer, output),
            APIRoute(.post, "/v1/speech", .creator, speech),
            APIRoute(.post, "/v1/generations", .creator, generate),
            APIRoute(.get, "/v1/generations", .viewer, listGenerations),
            APIRoute(.get, "/v1/generations/:id", .viewer, generation),
            APIRoute(.delete, "/v1/generations/:id", .creator, cancelGeneration),
            APIRoute(.get, "/v1/agents", .operator) { [engine] _, _ in await engine.agentStatuses() },
            APIRoute(.post, "/v1/agents/:agent/drain", .operator, drainAgent),
            APIRoute(.get, "/v1/stats", .operator) { [engine] _, _ in await engine.stats() },
            APIRoute(.get, "/metrics", .operator) { [metrics] _, _ in
                Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                         body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
            },
            APIRoute(.get, "/v1/teams", .admin, listTeams),
            APIRoute(.post, "/v1/teams", .admin, createTeam),
            APIRoute(.patch, "/v1/teams/:team", .admin, updateTeam),
            APIRoute(.get, "/v1/users", .admin, listUsers),
            APIRoute(.post, "/v1/users", .admin, createUser),
            APIRoute(.patch, "/v1/users/:user", .admin, updateUser),
            APIRoute(.delete, "/v1/users/:user", .viewer, eraseUser),
            APIRoute(.get, "/v1/users/:user/export", .viewer, exportUser),
            APIRoute(.post, "/v1/teams/:team/expire", .admin, expireTeam),
            APIRoute(.get, "/v1/users/:user/keys", .viewer, listKeys),
            APIRoute(.post, "/v1/users/:user/keys", .viewer, createKey),
            APIRoute(.delete, "/v1/keys/:key", .viewer, revokeKey),
        ]
    }

    func router() -> Router<FarmRequestContext> {
        let router = Router(context: FarmRequestContext.self)
        // A span per request, continuing a client's `traceparent` (a no-op unless traces are on).
        router.add(middleware: TracingMiddleware())
        router.add(middleware: SecurityHeaders())
        if !settings.corsOrigins.isEmpty { router.add(middleware: CORSAllowlist(origins: settings.corsOrigins)) }
        let authenticator = APIKeyAuthenticator(accounts: accounts, required: settings.requireAuth)
        webPages?.add(to: router, authenticator: authenticator)
        for route in routes {
            guard let role = route.role else {
                router.on(RouterPath(route.path), method: route.method, use: route.handler)
                continue
            }
            // Authenticate (401), then the role (403), then the body's type (415): in that order.
            router.group()
                .add(middleware: authenticator)
                .add(middleware: AuthorizationPolicyMiddleware(
                    RolePolicy<FarmIdentity>(role),
                    deniedError: HTTPError(.forbidden, message: "\(route.method) \(route.path) needs the \(role.rawValue) role"),
                    context: FarmRequestContext.self))
                .add(middleware: JSONOnlyWrites())
                .on(RouterPath(route.path), method: route.method, use: route.handler)
        }
        return router
    }

    /// Speaks a text with the farm's offline engine; the WAV, kept so that the same text is spoken once.
    @Sendable func speech(_ request: Request, context: FarmRequestContext) async throws -> Response {
        let body = try await decodeBody(request, as: SpeechRequest.self, what: "speech request")
        do {
            let (wav, cached) = try await speechSynthesizer.speak(body.text, voice: body.voice ?? "en", store: engine.outputs.store)
            return Response(status: .ok, headers: [.contentType: "audio/wav", .init("X-Farm-Speech-Cache")!: cached ? "hit" : "miss"],
                            body: .init(byteBuffer: ByteBuffer(bytes: wav)))
        } catch {
            switch error {
            case .invalid(let why): throw HTTPError(.unprocessableContent, message: why)
            case .busy: throw HTTPError(.tooManyRequests, message: "the farm is speaking \(SpeechSynthesizer.maxConcurrent) texts already; try again shortly")
            case .unavailable(let why): throw HTTPError(.serviceUnavailable, message: why)
            case .failed(let why): throw HTTPError(.internalServerError, message: why)
            }
        }
    }

    @Sendable func drainAgent(_ request: Request, context: FarmRequestContext) async throws -> AgentStatus {
        let id = try context.parameters.require("agent")
        let body = try await decodeBody(request, as: DrainRequest.self, what: "drain request")
        guard let status = await engine.drain(agentID: id, body.drain) else { throw HTTPError(.notFound, message: "no agent \(id) is connected") }
        return status
    }

    /// The request's body as `T`, at most `maxRequestBytes`.
    func decodeBody<T: Decodable>(_ request: Request, as type: T.Type, what: String) async throws -> T {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxRequestBytes)
        } catch {
            throw HTTPError(.contentTooLarge, message: "the request is larger than \(maxRequestBytes) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch {
            throw HTTPError(.badRequest, message: "the body is not a valid \(what): \(error)")
        }
    }

    static func accountError(_ error: any Error) -> any Error {
        switch error {
        case let error as AccountError:
            switch error {
            case .invalid: HTTPError(.unprocessableContent, message: error.description)
            case .notFound: HTTPError(.notFound, message: error.description)
            case .nameTaken, .conflict: HTTPError(.conflict, message: error.description)
            }
        case is HTTPError: error
        case is DeadlineExceeded: HTTPError(.serviceUnavailable, message: "the store did not answer in time; try again")
        default: HTTPError(.serviceUnavailable, message: "accounts unavailable: \(error)")
        }
    }
}
