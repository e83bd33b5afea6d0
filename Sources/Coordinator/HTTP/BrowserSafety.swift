import Hummingbird

/// Writes carry JSON only. A web page can POST a form or `text/plain` to any site without
/// asking first; a JSON body needs a CORS preflight, which only allowed origins pass.
struct JSONOnlyWrites<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if [.post, .put, .patch].contains(request.method) {
            let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                throw HTTPError(.unsupportedMediaType, message: "send the body as Content-Type: application/json")
            }
        }
        return try await next(request, context)
    }
}

/// Headers every answer carries, errors included: no sniffing, no framing, no referrer,
/// no caching of API answers by shared caches.
struct SecurityHeaders<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("X-Frame-Options")!] = "DENY"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        // The web pages bring their own, wider policy; everything else is data and runs nothing.
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'"
        }
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// CORS for the origins an operator listed (`--cors-origin`), none by default: Hummingbird's
/// CORS middleware answers for an allowed origin; any other origin gets no CORS headers at all.
struct CORSAllowlist<Context: RequestContext>: RouterMiddleware {
    let origins: Set<String>
    let cors = CORSMiddleware<Context>(
        allowOrigin: .originBased, allowHeaders: [.accept, .authorization, .contentType, .init("Idempotency-Key")!],
        allowMethods: [.get, .post, .patch, .delete, .head, .options], maxAge: .seconds(600))

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], origins.contains(origin) else { return try await next(request, context) }
        return try await cors.handle(request, context: context, next: next)
    }
}
