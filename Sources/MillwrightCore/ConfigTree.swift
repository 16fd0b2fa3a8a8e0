import Foundation

/// A piece of the configuration file as plain values, each knowing its file, line and dotted key.
///
/// The `Config` module builds it from YAML (with `${VAR}` already substituted and `<name>_env`
/// keys already looked up), so code outside `Config` — a connector's options — can read its own
/// block with the same located errors, "did you mean" hints included, without depending on a
/// YAML library.
public struct ConfigTree: Sendable {
    public enum Value: Sendable {
        case scalar(String)
        case mapping([Entry])
        case sequence([ConfigTree])
    }

    public struct Entry: Sendable {
        public var key: String
        /// Where the key is written (an unknown key is reported there).
        public var keyLine: Int?
        public var value: ConfigTree
        public init(key: String, keyLine: Int?, value: ConfigTree) { self.key = key; self.keyLine = keyLine; self.value = value }
    }

    public var value: Value
    public var file: String
    public var line: Int?
    public var path: String
    /// The text as written when the scalar came from the environment (`${VAR}`): errors show
    /// this instead of the value, which may be a secret.
    public var writtenAs: String?
    /// For a `<name>_env` key, the variable's value; nil when it is not set. The scalar itself is
    /// the variable's name.
    public var environmentValue: String?

    public init(_ value: Value, file: String, line: Int?, path: String, writtenAs: String? = nil, environmentValue: String? = nil) {
        self.value = value; self.file = file; self.line = line; self.path = path
        self.writtenAs = writtenAs; self.environmentValue = environmentValue
    }

    /// An empty mapping standing for a block that is not written, so a required option is
    /// still reported at the place it belongs.
    public static func emptyMapping(file: String, line: Int?, path: String) -> ConfigTree {
        ConfigTree(.mapping([]), file: file, line: line, path: path)
    }

    public func error(_ message: String, key: String? = nil) -> ConfigError {
        ConfigError(file: file, line: line, key: key ?? path, message: message)
    }

    public var entries: [Entry] {
        if case .mapping(let m) = value { return m }
        return []
    }

    public func child(_ key: String) -> ConfigTree? { entries.first { $0.key == key }?.value }

    public func required(_ key: String, _ why: String = "") throws(ConfigError) -> ConfigTree {
        guard let c = child(key) else { throw error("needs '\(key)'" + (why.isEmpty ? "" : " (\(why))")) }
        return c
    }

    /// The entries of a mapping, refusing any key not in `allowed` with the closest allowed one.
    public func mapping(allowed: [String]? = nil) throws(ConfigError) -> [(String, ConfigTree)] {
        switch value {
        case .mapping(let m):
            if let allowed, let bad = m.first(where: { !allowed.contains($0.key) }) {
                throw ConfigError.unknownKey(bad.key, allowed: allowed, file: file, line: bad.keyLine, path: bad.value.path)
            }
            return m.map { ($0.key, $0.value) }
        case .scalar(let s) where s.isEmpty || s == "~": return []
        default: throw error("must be a mapping (key: value)")
        }
    }

    public func string() throws(ConfigError) -> String {
        guard case .scalar(let s) = value else { throw error("must be a single value, not a list or mapping") }
        return s
    }

    /// A value that must not be empty (an id, a code the CMMS requires).
    public func nonEmptyString() throws(ConfigError) -> String {
        let s = try string()
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else { throw error("must not be empty") }
        return s
    }

    /// A value of at most `max` characters, the field length of the system it is sent to.
    public func string(maxLength max: Int, system: String) throws(ConfigError) -> String {
        let s = try string()
        guard s.count <= max else { throw error("\(shown(s)) is longer than \(system)'s \(max) characters") }
        return s
    }

    public func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        let s = try string()
        guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw error("must be a whole number, got \(shown(s))") }
        if let range, !range.contains(v) { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(shown(s))") }
        return v
    }

    public func double(in range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        let s = try string()
        guard let v = Double(s), v.isFinite else { throw error("must be a number, got \(shown(s))") }
        if let range, !range.contains(v) { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(shown(s))") }
        return v
    }

    public func bool() throws(ConfigError) -> Bool {
        let s = try string()
        switch s.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw error("must be true or false, got \(shown(s))")
        }
    }

    /// A duration within `range` (by default up to ten years: anything longer is a typo).
    public func duration(in range: ClosedRange<Duration> = .zero...Duration.seconds(10 * 365 * 86_400)) throws(ConfigError) -> Duration {
        let s = try string()
        guard let d = Duration.parse(s) else { throw error("must be a duration like 500ms, 10s, 30m, 2h or 1d, got \(shown(s))") }
        guard range.contains(d) else {
            throw error("must be between \(Self.describe(range.lowerBound)) and \(Self.describe(range.upperBound)), got \(shown(s))")
        }
        return d
    }

    /// One of `choices`, with the closest one suggested.
    public func oneOf(_ choices: [String]) throws(ConfigError) -> String {
        let s = try string()
        guard choices.contains(s) else {
            let hint = Suggest.closest(s, in: choices).map { " (did you mean '\($0)'?)" } ?? ""
            throw error("must be one of \(choices.joined(separator: ", ")), got \(shown(s))\(hint)")
        }
        return s
    }

    /// A list written as a YAML list or as one comma-separated value (`categories: "Vision, Safety"`).
    public func stringList() throws(ConfigError) -> [String] {
        if case .sequence(let items) = value { return try items.map { n throws(ConfigError) in try n.string() } }
        return try string().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A map written as a YAML mapping (`status_map: {NOCO: completed}`), as one value
    /// (`status_map: "NOCO=completed, DLFL=cancelled"`), or as a list of `KEY=value` items.
    /// The one-value form is how such options were written before system blocks took mappings;
    /// both keep working.
    public func stringMap() throws(ConfigError) -> [String: String] {
        var out: [String: String] = [:]
        switch value {
        case .mapping:
            for (k, v) in try mapping() { out[k] = try v.string() }
        case .sequence(let items):
            for item in items { try Self.addPairs(try item.string(), to: &out, at: item) }
        case .scalar(let s):
            try Self.addPairs(s, to: &out, at: self)
        }
        return out
    }

    /// A map whose values are ids the system numbers (`location_map: {Line 2: 5}`).
    public func intMap(of what: String) throws(ConfigError) -> [String: Int] {
        var out: [String: Int] = [:]
        for (key, value) in try stringMap() {
            guard let id = Int(value.trimmingCharacters(in: .whitespaces)) else {
                throw error("maps '\(key)' to '\(value.prefix(80))', which is not \(what) (a whole number)")
            }
            out[key] = id
        }
        return out
    }

    private static func addPairs(_ text: String, to out: inout [String: String], at node: ConfigTree) throws(ConfigError) {
        for pair in text.split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, !kv[0].isEmpty else {
                throw node.error("'\(pair.trimmingCharacters(in: .whitespaces).prefix(80))' is not KEY=value; write a mapping ({A: b}) or \"A=b, C=d\"")
            }
            out[kv[0]] = kv[1]
        }
    }

    /// The secret named by `<name>_env`, nil when the block has no such key.
    public func secret(_ name: String) throws(ConfigError) -> String? {
        guard let n = child(name + "_env") else { return nil }
        let variable = try n.string()
        guard let v = n.environmentValue else {
            throw n.error("environment variable \(variable) is not set; export it before starting (secrets never go in the file)")
        }
        return v
    }

    /// A value for an error message: quoted, or named by its variable when it came from the
    /// environment (it may be a secret).
    public func shown(_ value: String) -> String {
        if let writtenAs { return "the value of \(writtenAs.prefix(80))" }
        return "'\(value.prefix(80))'"
    }

    public static func describe(_ d: Duration) -> String {
        let s = d.seconds
        if s >= 86_400, s.truncatingRemainder(dividingBy: 86_400) == 0 { return "\(Int(s / 86_400))d" }
        if s >= 1, s.truncatingRemainder(dividingBy: 1) == 0 { return "\(Int(s))s" }
        return "\(Int((s * 1000).rounded()))ms"
    }
}

extension ConfigError {
    /// `unknown key (did you mean 'site'?); allowed here: …`, at the key.
    public static func unknownKey(_ key: String, allowed: [String], file: String, line: Int?, path: String) -> ConfigError {
        let hint = Suggest.closest(key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
        return ConfigError(file: file, line: line, key: path, message: "unknown key\(hint); allowed here: \(allowed.joined(separator: ", "))")
    }
}

/// The closest candidate to a mistyped word, for "did you mean" hints.
public enum Suggest {
    public static func closest(_ word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }.min { $0.1 < $1.1 }
        guard let best = scored, best.1 <= max(2, word.count / 3) else { return nil }
        return best.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}
