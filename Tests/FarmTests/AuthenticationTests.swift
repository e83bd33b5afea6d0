@testable import Coordinator
import FarmModel
import FarmStorage
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// API keys: missing, malformed, unknown, expired, revoked; the first admin's key file;
/// what browsers may send and see.
@Suite struct AuthenticationTests {
    @Test func unusableKeysAre401WithAReasonAndChangeNothing() async throws {
        try await APIFixture.with { client, farm in
            let (user, key) = try await farm.user("ann", team: "physics", role: .creator)
            let submit = SubmitRequest(script: APIFixture.script)
            func attempt(_ authorization: String?) async throws -> TestResponse {
                var headers = APIFixture.headers(nil, json: true)
                if let authorization { headers[.authorization] = authorization }
                return try await client.execute(uri: "/v1/videos", method: .post, headers: headers, body: APIFixture.json(submit))
            }
            let cases: [(String?, String)] = [
                (nil, "needs an API key"),
                ("Basic YWRtaW46YWRtaW4=", "must be `Bearer mf_"),
                ("Bearer not-a-key", "must be `Bearer mf_"),
                ("Bearer " + String(repeating: "x", count: 10_000), "must be `Bearer mf_"),
                ("Bearer mf_000000000000_" + String(repeating: "0", count: 64), "not valid"),
                // A real key's id with another secret: the id alone proves nothing.
                ("Bearer " + APIKeySecret.id(of: key)! + "_" + String(repeating: "a", count: 64), "not valid"),
            ]
            for (header, message) in cases {
                let response = try await attempt(header)
                #expect(response.status == .unauthorized, "\(header?.prefix(40) ?? "no header")")
                #expect(response.text.contains(message), "\(header?.prefix(40) ?? "no header"): \(response.text)")
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            // Expired: a key whose time is up.
            var expired = APIKeyRecord(id: "mf_0123456789ab", userID: user.id, name: "old", keyHash: APIKeySecret.hash(
                "mf_0123456789ab_" + String(repeating: "1", count: 64)), createdAt: Date(timeIntervalSinceNow: -7_200))
            expired.expiresAt = Date(timeIntervalSinceNow: -60)
            try await farm.store.insert(expired)
            let late = try await attempt("Bearer mf_0123456789ab_" + String(repeating: "1", count: 64))
            #expect(late.status == .unauthorized)
            #expect(late.text.contains("expired"))
            // Revoked over the API by its own user: refused from the next request on.
            #expect(try await attempt("Bearer " + key).status == .created)
            let revoked = try await client.call(.delete, "/v1/keys/\(APIKeySecret.id(of: key)!)", key: key)
            #expect(revoked.status == .ok)
            #expect(try revoked.decode(KeyInfo.self).revokedAt != nil)
            let after = try await attempt("Bearer " + key)
            #expect(after.status == .unauthorized)
            #expect(after.text.contains("revoked"))
            let videos = try await client.call(.get, "/v1/videos", key: farm.adminKey).decode(VideoPage.self).videos
            #expect(videos.count == 1, "only the one request with a good key submitted")
        }
    }

    @Test func keysAreStoredAsHashesAndRotatedByTheirUser() async throws {
        try await APIFixture.with { client, farm in
            let (user, key) = try await farm.user("bo", team: "physics", role: .viewer)
            let created = try await client.call(.post, "/v1/users/\(user.id)/keys", key: key,
                                                body: CreateKeyRequest(name: "laptop", expiresInDays: 30))
            #expect(created.status == .created)
            let newKey = try created.decode(CreatedKey.self)
            #expect(APIKeySecret.id(of: newKey.key) == newKey.info.id)
            #expect(newKey.info.expiresAt != nil)
            let me = try await client.call(.get, "/v1/me", key: newKey.key).decode(UserInfo.self)
            #expect(me.name == "bo" && me.role == .viewer && me.team.name == "physics")
            let listed = try await client.call(.get, "/v1/users/\(user.id)/keys", key: newKey.key)
            #expect(!listed.text.contains(String(newKey.key.suffix(64))), "listings never show a secret")
            let keys = try listed.decode([KeyInfo].self)
            #expect(keys.map(\.name) == ["test", "laptop"])
            #expect(keys.first?.lastUsedAt != nil, "the first key was used")
            // Nothing in the database holds a key: only hashes.
            let database = try Data(contentsOf: URL(fileURLWithPath: EngineConfiguration(dataDirectory: farm.folder).databasePath))
            for secret in [key, newKey.key, farm.adminKey] {
                #expect(database.range(of: Data(secret.suffix(64).utf8)) == nil)
            }
            let badExpiry = try await client.call(.post, "/v1/users/\(user.id)/keys", key: key, body: CreateKeyRequest(expiresInDays: 100_000))
            #expect(badExpiry.status == .unprocessableContent)
        }
    }

    @Test func theFirstAdminsKeyIsWrittenOnceForItsOwnerOnly() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-bootstrap-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: folder.appendingPathComponent("farm.sqlite").path)
        try await store.migrate()
        let accounts = Accounts(store: store)
        let keyFile = CoordinatorServer.adminKeyFile(dataDirectory: folder)
        #expect(try await accounts.bootstrap(keyFile: keyFile, logger: Logger(label: "test")))
        let attributes = try FileManager.default.attributesOfItem(atPath: keyFile.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let key = try String(contentsOf: keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await accounts.authenticate(key: key).role == .admin)
        #expect(try await !accounts.bootstrap(keyFile: keyFile, logger: Logger(label: "test")), "a store with users gets no second admin")
        #expect(try String(contentsOf: keyFile, encoding: .utf8).contains(key))
    }

    @Test func browsersMaySendOnlyJSONAndSeeNothingUnlessAllowed() async throws {
        var settings = APISettings()
        settings.corsOrigins = ["https://studio.example.com"]
        try await APIFixture.with(settings: settings) { client, farm in
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] {
                var headers = APIFixture.headers(farm.adminKey)
                if let type { headers[.contentType] = type }
                let response = try await client.execute(uri: "/v1/videos", method: .post, headers: headers,
                                                        body: APIFixture.json(SubmitRequest(script: APIFixture.script)))
                #expect(response.status == .unsupportedMediaType, "\(type ?? "no type")")
                #expect(response.text.contains("Content-Type: application"))
            }
            #expect(try await client.call(.get, "/v1/videos", key: farm.adminKey).decode(VideoPage.self).videos.isEmpty)

            for response in [try await client.call(.get, "/v1/me", key: farm.adminKey), try await client.call(.get, "/v1/me", key: nil)] {
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.init("X-Frame-Options")!] == "DENY")
                #expect(response.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
                #expect(response.headers[.cacheControl] == "no-store")
            }
            func preflight(_ origin: String) async throws -> TestResponse {
                try await client.execute(uri: "/v1/videos", method: .options, headers: [
                    .origin: origin, .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type",
                ])
            }
            let allowed = try await preflight("https://studio.example.com")
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://studio.example.com")
            #expect(allowed.headers[.accessControlAllowHeaders]?.lowercased().contains("authorization") == true)
            let stranger = try await preflight("https://evil.example.net")
            #expect(stranger.headers[.accessControlAllowOrigin] == nil)
        }
        // Off by default: no origin is answered.
        try await APIFixture.with { client, _ in
            let response = try await client.execute(uri: "/v1/videos", method: .options, headers: [
                .origin: "https://studio.example.com", .accessControlRequestMethod: "POST",
            ])
            #expect(response.headers[.accessControlAllowOrigin] == nil)
        }
    }

    @Test func aCoordinatorOnAPublicAddressRefusesToRunWithoutAuthenticationUnlessToldInsecure() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("farm-noauth-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: FarmHarness.binaries).appendingPathComponent("farm-coordinator")
        process.arguments = ["--no-auth", "--http", "0.0.0.0:0", "--zmq", "tcp://127.0.0.1:*", "--data-dir", folder.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(stderr.contains("--insecure-no-auth"), "\(stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("farm.sqlite").path), "refused before anything was created")
    }
}
