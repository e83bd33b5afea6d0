import Crypto
import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The S3 calls the farm makes, over the REST API of any S3-compatible store,
/// signed with Signature V4. Uploads carry a SHA-256 checksum the store
/// verifies; large ones go in parts, each verified by its MD5.
public struct S3Client: ObjectStore {
    public struct Configuration: Sendable {
        public var bucket: String
        public var region: String
        /// `https://s3.<region>.amazonaws.com` unless told otherwise (a local store, MinIO, R2).
        public var endpoint: URL
        /// `endpoint/bucket/key` instead of `bucket.endpoint/key`: what most non-AWS stores need.
        public var pathStyle: Bool

        public init(bucket: String, region: String, endpoint: URL? = nil, pathStyle: Bool = false) {
            self.bucket = bucket
            self.region = region
            self.endpoint = endpoint ?? URL(string: "https://s3.\(region).amazonaws.com")!
            self.pathStyle = pathStyle
        }
    }

    public typealias ObjectInfo = ObjectStorage.ObjectInfo

    public let configuration: Configuration
    public let credentials: AWSCredentialsProvider
    public let http: AWSHTTPClient
    private let signer: SignatureV4
    /// Objects at least this large are uploaded in parts of this size.
    public let partSize: Int

    public init(_ configuration: Configuration, credentials: AWSCredentialsProvider, http: AWSHTTPClient = .shared,
                partSize: Int = 16 << 20) {
        self.configuration = configuration
        self.credentials = credentials
        self.http = http
        self.partSize = max(partSize, 5 << 20)  // S3's smallest part but the last
        signer = SignatureV4(service: "s3", region: configuration.region)
    }

    /// The URL of `key` (path-style or virtual-hosted), with `query` appended.
    public func url(for key: String, query: [(String, String)] = []) -> URL {
        var components = URLComponents(url: configuration.endpoint, resolvingAgainstBaseURL: false)!
        let base = components.percentEncodedPath.hasSuffix("/") ? String(components.percentEncodedPath.dropLast())
            : components.percentEncodedPath
        let encodedKey = SignatureV4.encode(key, keepingSlashes: true)
        if configuration.pathStyle {
            components.percentEncodedPath = "\(base)/\(SignatureV4.encode(configuration.bucket))/\(encodedKey)"
        } else {
            components.host = "\(configuration.bucket).\(components.host ?? "")"
            components.percentEncodedPath = "\(base)/\(encodedKey)"
        }
        if !query.isEmpty {
            components.percentEncodedQuery = query.map { "\(SignatureV4.encode($0.0))=\(SignatureV4.encode($0.1))" }
                .joined(separator: "&")
        }
        return components.url!
    }

    // MARK: Objects

    /// Stores `data` at `key`. S3 refuses the upload unless what it received
    /// hashes to the SHA-256 sent with it, so a truncated or corrupted body never
    /// becomes the object.
    public func put(_ data: Data, key: String, contentType: String, cacheControl: String? = nil) async throws {
        if data.count >= partSize { return try await putInParts(data, key: key, contentType: contentType, cacheControl: cacheControl) }
        var headers = ["content-type": contentType, "x-amz-checksum-sha256": Data(SHA256.hash(data: data)).base64EncodedString()]
        if let cacheControl { headers["cache-control"] = cacheControl }
        _ = try await send("PUT", key: key, headers: headers, body: data)
    }

    public func get(_ key: String) async throws -> Data {
        try await send("GET", key: key).0
    }

    /// Bytes `range` of an object.
    public func get(_ key: String, bytes range: ClosedRange<Int>) async throws -> Data {
        try await send("GET", key: key, headers: ["range": "bytes=\(range.lowerBound)-\(range.upperBound)"]).0
    }

    /// `nil` when there is no such object.
    public func head(_ key: String) async throws -> ObjectInfo? {
        do {
            let (_, response) = try await send("HEAD", key: key)
            let etag = (response.value(forHTTPHeaderField: "ETag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            let size = Int(response.value(forHTTPHeaderField: "Content-Length") ?? "") ?? -1
            let kms = response.value(forHTTPHeaderField: "x-amz-server-side-encryption") == "aws:kms"
            return ObjectInfo(size: size, etag: etag, etagIsMD5: !kms && !etag.contains("-") && etag.count == 32)
        } catch let error as AWSError where error.status == 404 {
            return nil
        }
    }

    /// Copies an object inside the bucket, on the store's side: no byte passes
    /// through the caller. New headers replace the source's.
    public func copy(from source: String, to key: String, contentType: String, cacheControl: String? = nil) async throws {
        var headers = [
            "x-amz-copy-source": "/\(SignatureV4.encode(configuration.bucket))/\(SignatureV4.encode(source, keepingSlashes: true))",
            "x-amz-metadata-directive": "REPLACE", "content-type": contentType,
        ]
        if let cacheControl { headers["cache-control"] = cacheControl }
        let (data, _) = try await send("PUT", key: key, headers: headers)
        // A copy can fail after a 200 with an error document in the body.
        let text = String(decoding: data.prefix(2_048), as: UTF8.self)
        if text.contains("<Error>") {
            throw AWSError(status: 200, code: XMLValues.first("Code", in: text) ?? "CopyFailed",
                           message: XMLValues.first("Message", in: text) ?? text)
        }
    }

    public func delete(_ key: String) async throws {
        _ = try await send("DELETE", key: key)
    }

    /// Keys under `prefix`, in order, a thousand per request.
    public func list(prefix: String) async throws -> [(key: String, size: Int)] {
        var result: [(String, Int)] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let (data, _) = try await send("GET", key: "", query: query)
            let text = String(decoding: data, as: UTF8.self)
            let keys = XMLValues.all("Key", in: text), sizes = XMLValues.all("Size", in: text)
            result += zip(keys, sizes).map { ($0, Int($1) ?? 0) }
            token = XMLValues.first("IsTruncated", in: text) == "true" ? XMLValues.first("NextContinuationToken", in: text) : nil
        } while token != nil
        return result
    }

    /// Deletes every object under `prefix`; returns how many.
    @discardableResult
    public func deletePrefix(_ prefix: String) async throws -> Int {
        let keys = try await list(prefix: prefix).map(\.key)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, key) in keys.enumerated() {
                if index >= 16 { try await group.next() }
                group.addTask { try await delete(key) }
            }
            try await group.waitForAll()
        }
        return keys.count
    }

    /// A URL an agent may PUT one object to, without credentials, until it
    /// expires. Sending `Content-MD5` with it makes the store refuse a body that
    /// was damaged on the way.
    public func presignedPut(key: String, expires: Int) async throws -> URL {
        signer.presign(method: "PUT", url: url(for: key), expires: expires, credentials: try await credentials.credentials(),
                       date: Date())
    }

    /// A URL anyone may GET one object with until it expires.
    public func presignedGet(key: String, expires: Int) async throws -> URL {
        signer.presign(method: "GET", url: url(for: key), expires: expires, credentials: try await credentials.credentials(),
                       date: Date())
    }

    // MARK: Multipart

    private func putInParts(_ data: Data, key: String, contentType: String, cacheControl: String?) async throws {
        let uploadID = try await createMultipartUpload(key: key, contentType: contentType, cacheControl: cacheControl)
        do {
            var etags: [String] = []
            var offset = 0
            while offset < data.count {
                let part = data.subdata(in: offset..<min(offset + partSize, data.count))
                etags.append(try await uploadPart(part, key: key, uploadID: uploadID, number: etags.count + 1))
                offset += part.count
            }
            try await completeMultipartUpload(key: key, uploadID: uploadID, etags: etags)
        } catch {
            await abortMultipartUpload(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// Starts an upload in parts; the object appears only when it is completed.
    public func createMultipartUpload(key: String, contentType: String, cacheControl: String? = nil) async throws -> String {
        var headers = ["content-type": contentType]
        if let cacheControl { headers["cache-control"] = cacheControl }
        let (created, _) = try await send("POST", key: key, query: [("uploads", "")], headers: headers)
        guard let uploadID = XMLValues.first("UploadId", in: String(decoding: created, as: UTF8.self)) else {
            throw AWSError(status: 200, code: "MalformedResponse", message: "CreateMultipartUpload answered without an UploadId")
        }
        return uploadID
    }

    /// Uploads part `number` (from 1; at least 5 MiB unless it is the last), checked by its MD5; returns its ETag.
    public func uploadPart(_ part: Data, key: String, uploadID: String, number: Int) async throws -> String {
        let md5 = Insecure.MD5.hash(data: part)
        let (_, response) = try await send(
            "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
            headers: ["content-md5": Data(md5).base64EncodedString()], body: part)
        let etag = (response.value(forHTTPHeaderField: "ETag") ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let kms = response.value(forHTTPHeaderField: "x-amz-server-side-encryption") == "aws:kms"
        guard kms || etag == SignatureV4.hex(md5) else {
            throw AWSError(status: 200, code: "BadDigest", message: "part \(number) of \(key) was stored damaged")
        }
        return etag
    }

    public func completeMultipartUpload(key: String, uploadID: String, etags: [String]) async throws {
        let body = "<CompleteMultipartUpload>" + etags.enumerated().map {
            "<Part><PartNumber>\($0.offset + 1)</PartNumber><ETag>\"\($0.element)\"</ETag></Part>"
        }.joined() + "</CompleteMultipartUpload>"
        let (completed, _) = try await send("POST", key: key, query: [("uploadId", uploadID)],
                                            headers: ["content-type": "application/xml"], body: Data(body.utf8))
        let text = String(decoding: completed.prefix(2_048), as: UTF8.self)
        if text.contains("<Error>") {
            throw AWSError(status: 200, code: XMLValues.first("Code", in: text) ?? "CompleteFailed",
                           message: XMLValues.first("Message", in: text) ?? text)
        }
    }

    /// A URL anyone may PUT part `number` of an upload in parts to until it expires (with `Content-MD5`, as `presignedPut`).
    public func presignedUploadPart(key: String, uploadID: String, number: Int, expires: Int) async throws -> URL {
        signer.presign(method: "PUT", url: url(for: key, query: [("partNumber", String(number)), ("uploadId", uploadID)]),
                       expires: expires, credentials: try await credentials.credentials(), date: Date())
    }

    /// What the store holds as part `number` of an upload in parts (ListParts), or `nil` if it holds none.
    public func storedPart(_ number: Int, key: String, uploadID: String) async throws -> (etag: String, size: Int)? {
        let (listed, _) = try await send("GET", key: key, query: [
            ("max-parts", "1"), ("part-number-marker", String(max(number - 1, 0))), ("uploadId", uploadID),
        ])
        let text = String(decoding: listed, as: UTF8.self)
        for part in XMLValues.all("Part", in: text) where XMLValues.first("PartNumber", in: part) == String(number) {
            guard let etag = XMLValues.first("ETag", in: part), let size = XMLValues.first("Size", in: part).flatMap(Int.init) else {
                return nil
            }
            return (etag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), size)
        }
        return nil
    }

    /// Abandons an upload in parts (best effort: the bucket's lifecycle rule aborts what this misses).
    public func abortMultipartUpload(key: String, uploadID: String) async {
        _ = try? await send("DELETE", key: key, query: [("uploadId", uploadID)])
    }

    // MARK: Sending

    func send(_ method: String, key: String, query: [(String, String)] = [], headers: [String: String] = [:],
              body: Data = Data()) async throws -> (Data, HTTPURLResponse) {
        let url = url(for: key, query: query)
        let payloadHash = SignatureV4.hex(SHA256.hash(data: body))
        let signer = self.signer, credentials = self.credentials
        do {
            return try await sendSigned(method, url: url, headers: headers, body: body, payloadHash: payloadHash, signer: signer, credentials: credentials)
        } catch {
            if Self.isStoreFault(error) { Self.failedRequests.add(1, ordering: .relaxed) }
            throw error
        }
    }

    /// Requests that failed after their retries for a reason of the store's or the path to it (a server error, a
    /// refused credential, the network), not an answer such as 404: what an operator's alert counts.
    public static let failedRequests = Atomic<Int>(0)

    static func isStoreFault(_ error: any Error) -> Bool {
        guard let aws = error as? AWSError else { return !(error is CancellationError) }
        return aws.status >= 500 || aws.status == 403 || aws.status == 0
    }

    private func sendSigned(_ method: String, url: URL, headers: [String: String], body: Data, payloadHash: String,
                            signer: SignatureV4, credentials: AWSCredentialsProvider) async throws -> (Data, HTTPURLResponse) {
        try await http.send {
            var request = URLRequest(url: url)
            request.httpMethod = method
            if !body.isEmpty || method == "PUT" || method == "POST" { request.httpBody = body }
            var signedHeaders = headers
            signedHeaders["x-amz-content-sha256"] = payloadHash
            let signed = signer.sign(method: method, url: url, headers: signedHeaders, payloadHash: payloadHash,
                                     credentials: try await credentials.credentials(), date: Date())
            for (name, value) in signed { request.setValue(value, forHTTPHeaderField: name) }
            return request
        }
    }
}
