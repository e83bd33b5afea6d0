/// The file name a script is saved under on an agent.
///
/// The submitter chooses the name, so only its last path component is used,
/// and only when it is a plain Python file name: anything else becomes
/// `script.py`. A name can never point outside the task's folder.
public enum ScriptName {
    public static let fallback = "script.py"

    public static func safe(_ submitted: String) -> String {
        let base = submitted.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        let allowed = base.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        guard allowed, base.hasSuffix(".py"), base.utf8.count > 3, base.utf8.count <= 128, !base.hasPrefix(".") else {
            return fallback
        }
        return base
    }
}
