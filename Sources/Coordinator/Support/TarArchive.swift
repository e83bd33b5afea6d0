import Foundation

/// A POSIX ustar archive built in memory: regular files only, names up to 100 bytes.
/// Enough for an export that `tar -x` and every archive tool opens.
struct TarArchive {
    private(set) var data = Data()

    /// Adds a file (mode 0644) named `name` (shortened to its last 100 bytes if longer).
    mutating func add(_ name: String, _ contents: Data, modified: Date = Date()) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, width: Int) -> String {
            let digits = String(value, radix: 8)
            return String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits
        }
        let safeName = String(decoding: Array(name.utf8.suffix(100)), as: UTF8.self)
        put(safeName, at: 0, width: 100)
        put(octal(0o644, width: 8), at: 100, width: 8)
        put(octal(0, width: 8), at: 108, width: 8)
        put(octal(0, width: 8), at: 116, width: 8)
        put(octal(contents.count, width: 12), at: 124, width: 12)
        put(octal(max(0, Int(modified.timeIntervalSince1970)), width: 12), at: 136, width: 12)
        put("        ", at: 148, width: 8)  // the checksum counts itself as spaces
        header[156] = UInt8(ascii: "0")
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        let checksum = header.reduce(0) { $0 + Int($1) }
        put(octal(checksum, width: 7), at: 148, width: 6)  // six digits, NUL, space
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        data.append(contentsOf: header)
        data.append(contents)
        let padding = (512 - contents.count % 512) % 512
        data.append(Data(count: padding))
    }

    /// The archive with its end marker (two empty blocks).
    var finished: Data {
        data + Data(count: 1_024)
    }
}
