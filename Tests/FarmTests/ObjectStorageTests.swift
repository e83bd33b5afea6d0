import Crypto
import FarmModel
import Foundation
import ObjectStorage
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The object-store path against moto's S3 in server mode (the real S3 cannot be
/// reached here; the client code is the production one), with a proxy that
/// answers every Nth request with 503 SlowDown.
@Suite(.serialized) struct ObjectStorageTests {
    /// moto's server with one bucket, and optionally a flaky proxy in front of it.
    final class MotoS3 {
        let server: Process
        let port: Int
        var proxy: Process?
        let bucket: String
        static let credentials = AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing")
        static let environment = ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"]

        init(bucket: String) async throws {
            self.bucket = bucket
            port = try FarmHarness.freePort()
            server = Process()
            server.executableURL = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent().appendingPathComponent("moto_server")
            server.arguments = ["-H", "127.0.0.1", "-p", String(port)]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            for _ in 0..<100 {
                if (try? run("curl", ["-fs", "http://127.0.0.1:\(port)/moto-api/"])) != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            _ = try run("curl", ["-fs", "-X", "PUT", "http://127.0.0.1:\(port)/\(bucket)"])
        }

        deinit {
            for process in [server, proxy].compactMap({ $0 }) {
                kill(process.processIdentifier, SIGKILL)  // moto's server does not stop on SIGTERM
                process.waitUntilExit()
            }
        }

        var endpoint: String { "http://127.0.0.1:\(port)" }

        /// An endpoint in front of the server that answers every `nth` request with 503 SlowDown.
        func flakyEndpoint(everyNth nth: Int) async throws -> String {
            let proxyPort = try FarmHarness.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: FarmHarness.python)
            process.arguments = [FarmHarness.repository.appendingPathComponent("Tests/FarmTests/Fixtures/flaky_s3_proxy.py").path,
                                 String(proxyPort), String(port), String(nth)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            proxy = process
            for _ in 0..<100 {
                if (try? run("curl", ["-s", "-o", "/dev/null", "http://127.0.0.1:\(proxyPort)/moto-api/"])) != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            return "http://127.0.0.1:\(proxyPort)"
        }

        func client(endpoint: String? = nil, partSize: Int = 16 << 20,
                    retry: AWSHTTPClient.RetryPolicy = .init(attempts: 5, baseDelay: .milliseconds(20))) -> S3Client {
            S3Client(.init(bucket: bucket, region: "us-east-1", endpoint: URL(string: endpoint ?? self.endpoint)!, pathStyle: true),
                     credentials: AWSCredentialsProvider(.fixed(Self.credentials)),
                     http: AWSHTTPClient(retry: retry, timeout: 10), partSize: partSize)
        }
    }

    static func put(_ data: Data, to url: URL, md5: Data) async throws -> Int {
        var request = URLRequest(url: url)
        request.httpMethod = "PUT"
        request.httpBody = data
        request.setValue(md5.base64EncodedString(), forHTTPHeaderField: "Content-MD5")
        let (_, response) = try await URLSession.shared.data(for: request)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    @Test func theS3ClientStoresChecksSplitsCopiesPresignsAndRetries() async throws {
        let moto = try await MotoS3(bucket: "farm-client")
        let client = moto.client(partSize: 5 << 20)
        let small = Data("#EXTM3U\n".utf8)
        try await client.put(small, key: "a/b/index.m3u8", contentType: "application/vnd.apple.mpegurl", cacheControl: "public, max-age=2")
        #expect(try await client.get("a/b/index.m3u8") == small)
        let info = try #require(try await client.head("a/b/index.m3u8"))
        #expect(info.size == small.count)
        #expect(info.etagIsMD5 && info.etag == SignatureV4.hex(Insecure.MD5.hash(data: small)))
        #expect(try await client.head("a/b/missing") == nil)
        #expect(try await client.get("a/b/index.m3u8", bytes: 1...3) == Data("EXT".utf8))

        // Large objects go in 5 MiB parts, each checked against its MD5.
        var large = Data(count: 11 << 20)
        large.withUnsafeMutableBytes { for index in stride(from: 0, to: $0.count, by: 4_096) { $0[index] = UInt8(index >> 12 & 0xFF) } }
        try await client.put(large, key: "a/large.mp4", contentType: "video/mp4")
        #expect(try await client.get("a/large.mp4") == large)
        let largeInfo = try #require(try await client.head("a/large.mp4"))
        #expect(largeInfo.size == large.count && largeInfo.etag.hasSuffix("-3") && !largeInfo.etagIsMD5, "three parts")

        // A copy inside the store.
        try await client.copy(from: "a/b/index.m3u8", to: "c/index.m3u8", contentType: "application/vnd.apple.mpegurl")
        #expect(try await client.get("c/index.m3u8") == small)
        await #expect(throws: AWSError.self) { try await client.copy(from: "a/none", to: "c/none", contentType: "video/mp4") }

        // A presigned URL takes one body without credentials; a body that does not match its Content-MD5 is refused.
        let segment = Data((0..<50_000).map { UInt8($0 & 0xFF) })
        let url = try await client.presignedPut(key: "attempts/v/t/a1/r0-0.m4s", expires: 600)
        #expect(url.query?.contains("X-Amz-Signature=") == true && url.query?.contains("X-Amz-Credential=testing") == true)
        #expect(try await Self.put(segment, to: url, md5: Data(Insecure.MD5.hash(data: segment))) == 200)
        #expect(try await client.get("attempts/v/t/a1/r0-0.m4s") == segment)
        // A truncated body: S3 refuses it by its Content-MD5 (400 BadDigest); moto stores it. Either way what
        // the coordinator checks before accepting a result (size, and the ETag as MD5) shows it.
        let truncated = Data(segment.prefix(40_000))
        let status = try await Self.put(truncated, to: url, md5: Data(Insecure.MD5.hash(data: segment)))
        let stored = try #require(try await client.head("attempts/v/t/a1/r0-0.m4s"))
        if status == 200 {
            #expect(stored.size != segment.count && stored.etag != SignatureV4.hex(Insecure.MD5.hash(data: segment)))
        } else {
            #expect(status == 400 && stored.size == segment.count)
        }

        #expect(try await client.list(prefix: "a/").map(\.key).sorted() == ["a/b/index.m3u8", "a/large.mp4"])
        #expect(try await client.deletePrefix("a/") == 2)
        #expect(try await client.list(prefix: "a/").isEmpty)

        // Every second request answered with SlowDown: every call still succeeds, by retrying.
        let flaky = moto.client(endpoint: try await moto.flakyEndpoint(everyNth: 2))
        for index in 0..<6 {
            try await flaky.put(Data("\(index)".utf8), key: "f/\(index)", contentType: "text/plain")
            #expect(try await flaky.get("f/\(index)") == Data("\(index)".utf8))
        }
        // Nothing listening: a clear error after the bounded retries.
        let nowhere = moto.client(endpoint: "http://127.0.0.1:\(try FarmHarness.freePort())",
                                  retry: .init(attempts: 2, baseDelay: .milliseconds(10)))
        await #expect { try await nowhere.put(small, key: "x", contentType: "text/plain") } throws: { error in
            (error as? AWSError)?.code == "NetworkError"
        }
    }

    @Test func aPresignedURLIsTheSignatureAWSDocuments() throws {
        // AWS's published example for a presigned GET (Signature V4 documentation, "Example: a presigned URL").
        let signer = SignatureV4(service: "s3", region: "us-east-1")
        let url = signer.presign(
            method: "GET", url: URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!, expires: 86_400,
            credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            date: ISO8601DateFormatter().date(from: "2013-05-24T00:00:00Z")!)
        #expect(url.query?.hasSuffix("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404") == true,
                "\(url)")
    }
}
