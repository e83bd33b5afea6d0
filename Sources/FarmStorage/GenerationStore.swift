import FarmModel
import Foundation

/// Generation jobs (scripts written by a language model) and the cache of accepted scripts.
/// Both stores implement it beside `FarmStore`; a job is written whole after every step.
public protocol GenerationStore: Sendable {
    /// Inserts or replaces the job, unless the stored one has ended: an ended job never changes (a write that was
    /// under way when the job was cancelled must not bring it back).
    func saveGeneration(_ generation: GenerationRecord) async throws
    func generation(id: String) async throws -> GenerationRecord?
    /// A user's jobs (every user's with `nil`), newest first.
    func generations(userID: String?, limit: Int) async throws -> [GenerationRecord]
    /// Jobs not final yet: a restarted coordinator takes them up again.
    func unfinishedGenerations() async throws -> [GenerationRecord]
    /// The newest job whose script was accepted under `cacheKey`.
    func generation(cacheKey: String) async throws -> GenerationRecord?
    /// Deletes a user's jobs (their prompts and scripts are theirs); returns how many there were.
    func deleteGenerations(userID: String) async throws -> Int
}

extension GenerationRecord {
    /// The final states, quoted for SQL (the farm's own names: nothing from outside).
    static let finalStates = GenerationState.allCases.filter(\.isFinal).map { "'\($0.rawValue)'" }.joined(separator: ", ")

    /// The record as the stores keep it (JSON).
    func storedJSON() throws -> String {
        String(decoding: try GenerationCoding.encoder.encode(self), as: UTF8.self)
    }

    static func fromStored(_ json: String) throws -> GenerationRecord {
        try GenerationCoding.decoder.decode(GenerationRecord.self, from: Data(json.utf8))
    }
}

/// Dates as seconds since 1970 with their fractions: a job's rounds are ordered by them.
enum GenerationCoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }()
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }()
}
