import CZeroMQ
import Foundation

/// CurveZMQ key pairs (Z85 text, 40 characters each) and the files that hold them.
public enum CurveKeys {
    /// A new random key pair.
    public static func generate() throws -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: 41), secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return (String(cString: publicKey), String(cString: secretKey))
    }

    /// The public key of `secretKey`, or `nil` if it is not a Z85 CURVE key.
    public static func publicKey(of secretKey: String) -> String? {
        guard isKey(secretKey) else { return nil }
        var publicKey = [CChar](repeating: 0, count: 41)
        let status = secretKey.withCString { zmq_curve_public(&publicKey, $0) }
        return status == 0 ? String(cString: publicKey) : nil
    }

    /// The Z85 text of a 32-byte binary key.
    public static func z85(_ key: Data) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        let encoded = key.withUnsafeBytes { zmq_z85_encode(&text, $0.bindMemory(to: UInt8.self).baseAddress, 32) }
        return encoded == nil ? nil : String(cString: text)
    }

    /// Whether `text` has the shape of a Z85-encoded 32-byte key.
    public static func isKey(_ text: String) -> Bool {
        let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
        return text.count == 40 && text.allSatisfy(alphabet.contains)
    }

    /// The key pair whose secret key is in `file`; with `create`, a missing file
    /// is made with a new secret key, readable by this user only.
    public static func load(secretFile file: URL, create: Bool) throws -> (publicKey: String, secretKey: String) {
        let secretKey: String
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            secretKey = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if create {
            secretKey = try generate().secretKey
            try writePrivately(secretKey + "\n", to: file)
        } else {
            throw KeyFileError("cannot read the secret key at \(file.path)")
        }
        guard let publicKey = publicKey(of: secretKey) else {
            throw KeyFileError("\(file.path) does not hold a CurveZMQ secret key (40 Z85 characters)")
        }
        return (publicKey, secretKey)
    }

    /// A public key given as itself or as `@FILE` (its first line).
    public static func publicKey(argument: String) throws -> String {
        let text = argument.hasPrefix("@")
            ? try String(contentsOfFile: String(argument.dropFirst()), encoding: .utf8) : argument
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard isKey(key) else { throw KeyFileError("not a CurveZMQ public key (40 Z85 characters): \(key.prefix(60))") }
        return key
    }

    /// Writes `text` readable by this user only.
    public static func writePrivately(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyFileError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // An existing file keeps its mode through O_TRUNC: narrow it before the secret is written.
        guard fchmod(fd, 0o600) == 0 else { throw KeyFileError("cannot restrict \(url.path) to its owner") }
        guard text.withCString({ write(fd, $0, strlen($0)) }) == text.utf8.count else { throw KeyFileError("cannot write \(url.path)") }
    }
}

/// The file of admitted public keys: one Z85 key per line, optionally followed
/// by a name; a line starting with `#` is a comment (only there: Z85 keys may contain `#`).
public enum AuthorizedKeys {
    /// Keys and names in `text`; malformed lines are ignored.
    public static func parse(_ text: String) -> [String: String] {
        var keys: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if fields.first?.hasPrefix("#") == true, fields.first.map({ !CurveKeys.isKey(String($0)) }) ?? true { continue }
            guard let key = fields.first.map(String.init), CurveKeys.isKey(key) else { continue }
            keys[key] = fields.count > 1 ? fields[1...].joined(separator: " ") : key
        }
        return keys
    }

    /// Adds `key` (under `name`) unless it is there already, creating the file
    /// if needed. One line in one append is atomic, so agents enrolling together do not collide.
    public static func add(_ key: String, name: String?, to path: URL) throws {
        guard CurveKeys.isKey(key) else { throw KeyFileError("not a CurveZMQ public key (40 Z85 characters): \(key)") }
        if parse((try? String(contentsOf: path, encoding: .utf8)) ?? "")[key] != nil { return }
        try FileManager.default.createDirectory(at: path.deletingLastPathComponent(), withIntermediateDirectories: true)
        let line = key + (name.map { " " + $0.filter { !$0.isNewline } } ?? "") + "\n"
        let fd = open(path.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyFileError("cannot open \(path.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard line.withCString({ write(fd, $0, strlen($0)) }) == line.utf8.count else { throw KeyFileError("cannot write \(path.path)") }
    }

    /// Removes every line naming `key`; returns whether there was one.
    @discardableResult
    public static func revoke(_ key: String, from path: URL) throws -> Bool {
        let text = (try? String(contentsOf: path, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let kept = lines.filter { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) != key }
        guard kept.count != lines.count else { return false }
        try Data(kept.joined(separator: "\n").utf8).write(to: path, options: .atomic)
        return true
    }
}

public struct KeyFileError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
