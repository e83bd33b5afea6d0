import Foundation

/// The OpenAPI 3.1 description of the HTTP API (`API/openapi.json`, served at `/openapi.json`).
/// Written by hand beside the routes; `APIContractTests` keeps the two in step (every route of
/// `FarmAPI.routes` with its method and role, and nothing else) and runs schemathesis against a
/// live coordinator from it.
enum APIDocument {
    static let openAPI: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url) else { return Array(#"{"error":"the API description is missing"}"#.utf8) }
        return Array(data)
    }()
}
