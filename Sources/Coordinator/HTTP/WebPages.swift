import Foundation
import Hummingbird

/// The farm in a browser: a few pages served by the coordinator. Each page is a static shell
/// (the layout around one page's markup) and a small script that reads the JSON API with the
/// session cookie and follows `GET /v1/events`; nothing is built by a toolchain, nothing comes
/// from another site. The shells carry no data, so they need no role; a shell asked for without
/// a session sends the browser to the sign-in page.
struct WebPages: Sendable {
    struct Page: Sendable {
        let path: String
        let title: String
        let file: String
        /// The sign-in page itself is open.
        var needsSession = true
    }

    static let pages = [
        Page(path: "/", title: "Videos", file: "videos"),
        Page(path: "/videos/:id", title: "Video", file: "video"),
        Page(path: "/submit", title: "Submit a video", file: "submit"),
        Page(path: "/generate", title: "Describe a video", file: "generate"),
        Page(path: "/agents", title: "Agents", file: "agents"),
        Page(path: "/signin", title: "Sign in", file: "signin", needsSession: false),
    ]

    /// Scripts and styles come from this site only; pictures and media may come from the object
    /// store or its CDN, whose origins the operator configures (they cannot run code).
    static let pageSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http:; "
        + "media-src 'self' blob: https: http:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    let shells: [String: ByteBuffer]
    let assets: [String: (body: ByteBuffer, type: String)]

    /// Reads the pages from the coordinator's resources once.
    init() throws {
        guard let folder = Bundle.module.url(forResource: "Web", withExtension: nil) else {
            throw HTTPError(.internalServerError, message: "the web pages are missing from the coordinator's resources")
        }
        let layout = try String(contentsOf: folder.appendingPathComponent("layout.html"), encoding: .utf8)
        var shells: [String: ByteBuffer] = [:]
        for page in Self.pages {
            let main = try String(contentsOf: folder.appendingPathComponent("\(page.file).html"), encoding: .utf8)
            var html = layout.replacingOccurrences(of: "{{title}}", with: page.title)
                .replacingOccurrences(of: "{{script}}", with: page.file)
                .replacingOccurrences(of: "{{main}}", with: main)
            for other in Self.pages {
                html = html.replacingOccurrences(of: "{{current-\(other.file)}}", with: other.file == page.file ? #" aria-current="page""# : "")
            }
            shells[page.file] = ByteBuffer(string: html)
        }
        var assets: [String: (ByteBuffer, String)] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where !name.hasSuffix(".html") {
            let type = name.hasSuffix(".js") ? "text/javascript; charset=utf-8"
                : name.hasSuffix(".css") ? "text/css; charset=utf-8" : name.hasSuffix(".svg") ? "image/svg+xml" : "application/octet-stream"
            assets[name] = (ByteBuffer(bytes: try Data(contentsOf: folder.appendingPathComponent(name))), type)
        }
        self.shells = shells
        self.assets = assets
    }

    func add(to router: Router<FarmRequestContext>, authenticator: APIKeyAuthenticator) {
        for page in Self.pages {
            let shell = shells[page.file]!
            router.get(RouterPath(page.path)) { request, _ -> Response in
                if page.needsSession, authenticator.required, !(await Self.hasSession(request, authenticator)) {
                    let next = request.uri.path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "/"))) ?? "/"
                    return Response(status: .seeOther, headers: [.location: "/signin?next=\(next)"])
                }
                return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: Self.pageSecurityPolicy],
                                body: .init(byteBuffer: shell))
            }
        }
        router.get("/static/:file") { _, context -> Response in
            let name = try context.parameters.require("file")
            guard let asset = assets[name] else { throw HTTPError(.notFound, message: "no file \(name)") }
            // Short-lived: a new coordinator version may change them, and they are small.
            return Response(status: .ok, headers: [.contentType: asset.type, .cacheControl: "private, max-age=300"],
                            body: .init(byteBuffer: asset.body))
        }
    }

    /// Whether the request carries a session cookie whose key works now.
    static func hasSession(_ request: Request, _ authenticator: APIKeyAuthenticator) async -> Bool {
        guard let key = SessionCookie.key(in: request) else { return false }
        return (try? await authenticator.identity(forKey: key)) != nil
    }
}
