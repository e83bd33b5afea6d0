import Crypto
import Foundation

/// The shape of an API key: `mf_` and 12 hex digits (its public id, safe to log and list),
/// `_`, then 64 hex digits of secret. Only the SHA-256 of the whole key is stored.
public enum APIKeySecret {
    static let prefix = "mf_"

    /// A new random key and its id and hash.
    public static func generate() -> (key: String, id: String, hash: String) {
        var generator = SystemRandomNumberGenerator()  // getrandom(2): cryptographically secure
        let id = prefix + hex((0..<6).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let secret = hex((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        let key = id + "_" + secret
        return (key, id, hash(key))
    }

    /// The key's id if `text` has a key's shape, else `nil` (nothing is looked up for malformed keys).
    public static func id(of text: String) -> String? {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "mf", parts[1].count == 12, parts[2].count == 64,
              (parts[1] + parts[2]).allSatisfy(\.isHexDigit) else { return nil }
        return "mf_" + parts[1]
    }

    /// SHA-256 of the key, hex.
    public static func hash(_ key: String) -> String {
        hex(Array(SHA256.hash(data: Data(key.utf8))))
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
