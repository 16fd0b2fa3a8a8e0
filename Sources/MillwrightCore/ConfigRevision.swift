import Foundation

/// The configuration as the audit trail keeps it (Part 11 §11.10(k)(2): changes to the
/// system's documentation and settings are recorded): its SHA-256 and a redacted text, so a
/// start can record what changed since the previous one without recording a secret.
public struct ConfigRevision: Sendable, Equatable {
    public var sha256: String
    public var redacted: String

    /// A file larger than this is recorded by hash only; plant configurations are a few KiB.
    public static let maxBytes = 256 << 10
    /// At most this many changed lines are listed; the rest are counted.
    public static let maxDiffLines = 200

    public init(text: String) {
        sha256 = Hashing.sha256Hex(Data(text.utf8))
        redacted = text.utf8.count > Self.maxBytes ? "" : Self.redact(text)
    }

    public init(sha256: String, redacted: String) { self.sha256 = sha256; self.redacted = redacted }

    /// Values of keys that name a secret (…key, …secret, …password, …token), and passwords in
    /// URLs, become `<redacted>`. Keys ending in `_env` name a variable, not a secret, and stay.
    public static func redact(_ text: String) -> String {
        var out = text
        let patterns = [
            #"(?i)\b([A-Za-z0-9_]*(?:secret|password|passwd|token|key))(\s*:\s*)("[^"\n]*"|'[^'\n]*'|[^,}\]\n#]+)"#,
            #"(://[^:/@\s]+:)([^@/\s]+)(@)"#,
        ]
        for (i, p) in patterns.enumerated() {
            guard let re = try? NSRegularExpression(pattern: p) else { continue }
            let ns = out as NSString
            var result = ""
            var last = 0
            for m in re.matches(in: out, range: NSRange(location: 0, length: ns.length)) {
                result += ns.substring(with: NSRange(location: last, length: m.range.location - last))
                if i == 0 {
                    let key = ns.substring(with: m.range(at: 1))
                    if key.lowercased().hasSuffix("_env") {
                        result += ns.substring(with: m.range)
                    } else {
                        result += key + ns.substring(with: m.range(at: 2)) + "<redacted>"
                    }
                } else {
                    result += ns.substring(with: m.range(at: 1)) + "<redacted>" + ns.substring(with: m.range(at: 3))
                }
                last = m.range.location + m.range.length
            }
            result += ns.substring(from: last)
            out = result
        }
        return out
    }

    /// Lines removed (`- …`) and added (`+ …`) from `old` to `new`, in order, at most
    /// `maxDiffLines` of them (a last line says how many more).
    public static func diff(from old: String, to new: String) -> [String] {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Longest common subsequence over at most 4,000 × 4,000 lines (bounded by maxBytes).
        guard a.count * b.count <= 16_000_000 else { return ["(too large to compare line by line)"] }
        var lcs = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0, total = 0
        func emit(_ line: String) {
            total += 1
            if out.count < maxDiffLines { out.append(line) }
        }
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] { i += 1; j += 1 }
            // On a tie the removal comes first: "- old" then "+ new" reads as a change.
            else if i < a.count, j == b.count || lcs[i + 1][j] >= lcs[i][j + 1] { emit("- " + a[i]); i += 1 }
            else { emit("+ " + b[j]); j += 1 }
        }
        if total > out.count { out.append("(\(total - out.count) more changed line(s))") }
        return out
    }
}
