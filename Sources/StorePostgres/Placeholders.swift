import Foundation

/// Rewrites the store's SQLite-style placeholders into PostgreSQL's numbered ones.
///
/// `?` becomes `$N` where N is one more than the largest number given so far, and `?N` becomes
/// `$N`: SQLite's own numbering, so `?1, ?, ?1` reads as `$1, $2, $1` on both databases.
/// Text inside single quotes (string literals, `''` escapes included), double quotes (quoted
/// identifiers), `--` line comments and `/* */` block comments is copied untouched, so a
/// literal question mark in a string stays one.
public enum Placeholders {
    public static func translate(_ sql: String) -> String {
        enum State { case code, singleQuoted, doubleQuoted, lineComment, blockComment }
        let bytes = Array(sql.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var state = State.code
        var highest = 0
        var i = 0
        let question = UInt8(ascii: "?"), dollar = UInt8(ascii: "$")
        while i < bytes.count {
            let b = bytes[i]
            let next: UInt8? = i + 1 < bytes.count ? bytes[i + 1] : nil
            switch state {
            case .code:
                if b == question {
                    var j = i + 1
                    var number = 0
                    while j < bytes.count, let d = digit(bytes[j]), number < 100_000 { number = number * 10 + d; j += 1 }
                    if j == i + 1 { highest += 1; number = highest } else { highest = max(highest, number) }
                    out.append(dollar)
                    out.append(contentsOf: Array(String(number).utf8))
                    i = j
                    continue
                }
                if b == UInt8(ascii: "'") { state = .singleQuoted }
                else if b == UInt8(ascii: "\"") { state = .doubleQuoted }
                else if b == UInt8(ascii: "-"), next == UInt8(ascii: "-") { state = .lineComment; out.append(b); out.append(b); i += 2; continue }
                else if b == UInt8(ascii: "/"), next == UInt8(ascii: "*") { state = .blockComment; out.append(b); out.append(UInt8(ascii: "*")); i += 2; continue }
            case .singleQuoted:
                // `''` inside a literal ends and reopens it: the net effect is the same state.
                if b == UInt8(ascii: "'") { state = .code }
            case .doubleQuoted:
                if b == UInt8(ascii: "\"") { state = .code }
            case .lineComment:
                if b == UInt8(ascii: "\n") { state = .code }
            case .blockComment:
                if b == UInt8(ascii: "*"), next == UInt8(ascii: "/") { state = .code; out.append(b); out.append(UInt8(ascii: "/")); i += 2; continue }
            }
            out.append(b)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func digit(_ b: UInt8) -> Int? {
        b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") ? Int(b - UInt8(ascii: "0")) : nil
    }
}

/// Translations remembered per SQL text. The store's statements are a fixed set written in
/// the source, so the cache stays small; the bound only guards against a caller that builds
/// SQL text dynamically (it is emptied when full, which costs one re-translation each).
final class PlaceholderCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: String] = [:]
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    func translate(_ sql: String) -> String {
        if let hit = lock.withLock({ entries[sql] }) { return hit }
        let translated = Placeholders.translate(sql)
        lock.withLock {
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[sql] = translated
        }
        return translated
    }

    var count: Int { lock.withLock { entries.count } }
}
