@testable import Coordinator
import FarmModel
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The OpenAPI document (`/openapi.json`) against the API it describes: the same routes, methods
/// and roles as `FarmAPI.routes`; real answers valid under its schemas; and schemathesis (PyPI)
/// fuzzing a live coordinator from it without a server error or an answer off its schema.
@Suite(.serialized) struct APIContractTests {
    static func document(_ client: any TestClientProtocol) async throws -> [String: Any] {
        let response = try await client.execute(uri: "/openapi.json", method: .get)
        #expect(response.status == .ok && response.headers[.contentType] == "application/json")
        return try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
    }

    @Test func theDocumentDescribesEveryRouteWithItsRoleAndNothingElse() async throws {
        try await APIFixture.with { client, farm in
            let document = try await Self.document(client)
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
            var described: [String: String] = [:]  // "GET /v1/videos/{id}" -> role ("" for none)
            for (path, operations) in paths {
                for (method, operation) in operations {
                    described["\(method.uppercased()) \(path)"] = operation["x-farm-role"] as? String ?? ""
                }
            }
            var routed: [String: String] = [:]
            for route in farm.api.routes {
                let path = route.path.split(separator: "/", omittingEmptySubsequences: false).map { part in
                    part == "**" ? "{path}" : part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
                }.joined(separator: "/")
                routed["\(route.method.rawValue) \(path)"] = route.role?.rawValue ?? ""
            }
            #expect(Set(described.keys) == Set(routed.keys),
                    "undocumented: \(Set(routed.keys).subtracting(described.keys).sorted()); not routed: \(Set(described.keys).subtracting(routed.keys).sorted())")
            for (operation, role) in routed {
                #expect(described[operation] == role, "\(operation) needs \(role.isEmpty ? "no role" : role) but is described with \(described[operation] ?? "nothing")")
            }
            // Every reference resolves.
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
            let text = String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self)
            let references = text.components(separatedBy: "#\\/components\\/schemas\\/").dropFirst().map { $0.prefix { $0 != "\"" } }
            #expect(!references.isEmpty)
            for reference in references { #expect(schemas[String(reference)] != nil, "$ref \(reference) resolves") }
        }
    }

    @Test func realAnswersAreValidUnderTheirSchemas() async throws {
        try await APIFixture.with { client, farm in
            let document = try await Self.document(client)
            let validator = try SchemaValidator(document)
            let key = farm.adminKey
            var request = SubmitRequest(script: APIFixture.script, scriptName: "hello.py", quality: .low, ladder: [480, 240], priority: 3)
            request.stillSeconds = 2
            let submitted = try await client.call(.post, "/v1/videos", key: key, body: request)
            let id = try submitted.decode(VideoStatus.self).id
            let (user, _) = try await farm.user("ada", team: "physics", role: .creator)
            let answers: [(String, TestResponse)] = [
                ("VideoStatus", submitted),
                ("VideoStatus", try await client.call(.get, "/v1/videos/\(id)", key: key)),
                ("VideoPage", try await client.call(.get, "/v1/videos?limit=5", key: key)),
                ("UserInfo", try await client.call(.get, "/v1/me", key: key)),
                ("SessionInfo", try await client.call(.get, "/v1/session", key: key)),
                ("FarmStats", try await client.call(.get, "/v1/stats", key: key)),
                ("ScriptScenes", try await client.call(.post, "/v1/scripts/scenes", key: key, body: ScriptScenesRequest(script: APIFixture.script))),
                ("TeamInfo", try await client.call(.post, "/v1/teams", key: key, body: CreateTeamRequest(name: "chemistry"))),
                ("CreatedKey", try await client.call(.post, "/v1/users/\(user.id)/keys", key: key, body: CreateKeyRequest(name: "laptop", expiresInDays: 9))),
                ("RetentionReport", try await client.call(.post, "/v1/teams/physics/expire", key: key, body: ExpireRequest(dryRun: true))),
                ("VideoStatus", try await client.call(.delete, "/v1/videos/\(id)", key: key)),
                ("Error", try await client.call(.get, "/v1/videos/vmissing", key: key)),
                ("Error", try await client.call(.post, "/v1/videos", key: key, body: SubmitRequest(script: "class (:"))),
            ]
            let sent = try JSONSerialization.jsonObject(with: JSONEncoder().encode(request))
            #expect(validator.problems(sent, against: ["$ref": "#/components/schemas/SubmitRequest"]).isEmpty, "what the CLI sends")
            for (schema, answer) in answers {
                let value = try JSONSerialization.jsonObject(with: Data(answer.text.utf8))
                let problems = validator.problems(value, against: ["$ref": "#/components/schemas/\(schema)"])
                #expect(problems.isEmpty, "\(schema): \(problems) in \(answer.text.prefix(400))")
            }
            // The validator can fail: a field the document does not know is caught.
            var forged = try #require(try JSONSerialization.jsonObject(with: Data(submitted.text.utf8)) as? [String: Any])
            forged["renamedField"] = 1
            #expect(validator.problems(forged, against: ["$ref": "#/components/schemas/VideoStatus"]) == ["$.renamedField: not in the schema"])
            for list in ["/v1/teams": "TeamInfo", "/v1/users": "UserInfo", "/v1/agents": "AgentStatus", "/v1/users/\(user.id)/keys": "KeyInfo"] {
                let value = try JSONSerialization.jsonObject(with: Data(try await client.call(.get, list.key, key: key).text.utf8))
                let problems = validator.problems(value, against: ["type": "array", "items": ["$ref": "#/components/schemas/\(list.value)"]])
                #expect(problems.isEmpty, "\(list.key): \(problems)")
            }
        }
    }

    @Test func schemathesisFindsNoServerErrorAndNoAnswerOffItsSchema() async throws {
        let schemathesis = ProcessInfo.processInfo.environment["FARM_SCHEMATHESIS"]
            ?? FarmHarness.repository.appendingPathComponent(".venv-tools/bin/st").path
        try #require(FileManager.default.isExecutableFile(atPath: schemathesis),
                     "schemathesis is not installed at \(schemathesis): run scripts/install-deps.sh --test-tools")
        // Generation on, with a provider that cannot be reached: its routes answer as configured (its jobs wait for an agent).
        let farm = try await FarmHarness(agents: [], coordinatorArguments: [
            "--generation-provider", "gemini", "--gemini-endpoint", "http://127.0.0.1:9",
            "--gemini-attempts", "1",
        ], environment: ["GEMINI_API_KEY": "unused"])
        let base = farm.http.absoluteString.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        // The event streams are left out: they last until their video ends (their `once` form is covered in process).
        let (status, output, errors) = try runStatus(schemathesis, [
            "run", "\(base)/openapi.json", "--header", "Authorization: Bearer \(try farm.adminKey)",
            "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples", "20", "--generation-deterministic", "--exclude-path-regex", "events", "--request-timeout", "30",
        ])
        #expect(status == 0, "schemathesis: \(output.suffix(6_000)) \(errors.suffix(2_000))")
        #expect(output.contains("passed") && !output.contains("failed"), "\(output.suffix(3_000))")
    }
}

/// The part of JSON Schema the document uses: `$ref`, `type`, `properties`, `required`,
/// `additionalProperties: false`, `items`, `enum`. Enough to catch a field the Swift types
/// renamed, added or dropped without the document.
struct SchemaValidator {
    let schemas: [String: Any]

    init(_ document: [String: Any]) throws {
        schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
    }

    func problems(_ value: Any, against schema: [String: Any], at path: String = "$") -> [String] {
        if let reference = schema["$ref"] as? String {
            guard let resolved = schemas[String(reference.split(separator: "/").last ?? "")] as? [String: Any] else { return ["\(path): no schema \(reference)"] }
            return problems(value, against: resolved, at: path)
        }
        if let options = schema["enum"] as? [String], !options.contains(value as? String ?? "\u{0}") {
            return ["\(path): \(value) is not one of \(options)"]
        }
        switch schema["type"] as? String {
        case "object":
            guard let object = value as? [String: Any] else { return ["\(path): not an object"] }
            let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
            var found = (schema["required"] as? [String] ?? []).filter { object[$0] == nil }.map { "\(path).\($0): required but absent" }
            for (name, member) in object {
                guard let property = properties[name] else {
                    if schema["additionalProperties"] as? Bool == false { found.append("\(path).\(name): not in the schema") }
                    continue
                }
                found += problems(member, against: property, at: "\(path).\(name)")
            }
            return found
        case "array":
            guard let array = value as? [Any] else { return ["\(path): not an array"] }
            let items = schema["items"] as? [String: Any] ?? [:]
            return array.enumerated().flatMap { problems($0.element, against: items, at: "\(path)[\($0.offset)]") }
        case "string": return value is String ? [] : ["\(path): not a string"]
        case "boolean": return value is Bool ? [] : ["\(path): not a boolean"]
        case "integer": return (value as? NSNumber).map { $0.doubleValue == $0.doubleValue.rounded() } == true ? [] : ["\(path): not an integer"]
        case "number": return value is NSNumber ? [] : ["\(path): not a number"]
        default: return []
        }
    }
}
