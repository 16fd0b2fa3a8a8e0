import Foundation
import MillwrightCore
import Yams

/// A YAML node that knows its dotted key path and line, so every error can say where.
struct YAMLNode {
    let node: Node
    let path: String
    let file: String
    let env: ConfigEnvironment

    var line: Int? { node.mark?.line }

    func error(_ message: String, key: String? = nil) -> ConfigError {
        ConfigError(file: file, line: line, key: key ?? path, message: message)
    }

    func child(_ key: String) -> YAMLNode? {
        guard let mapping = node.mapping else { return nil }
        for (k, v) in mapping where k.string == key {
            return YAMLNode(node: v, path: path.isEmpty ? key : "\(path).\(key)", file: file, env: env)
        }
        return nil
    }

    func requireMapping(allowed: [String]? = nil) throws(ConfigError) -> [(String, YAMLNode)] {
        guard let mapping = node.mapping else {
            if node.scalar?.string == "" || node.scalar?.string == "~" { return [] }
            throw error("must be a mapping (key: value)")
        }
        var out: [(String, YAMLNode)] = []
        for (k, v) in mapping {
            guard let key = k.string else { throw error("has a key that is not text") }
            let child = YAMLNode(node: v, path: path.isEmpty ? key : "\(path).\(key)", file: file, env: env)
            if let allowed, !allowed.contains(key) {
                let hint = Suggest.closest(key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigError(file: file, line: k.mark?.line, key: child.path,
                                  message: "unknown key\(hint); allowed here: \(allowed.joined(separator: ", "))")
            }
            out.append((key, child))
        }
        return out
    }

    func requireSequence() throws(ConfigError) -> [YAMLNode] {
        guard let seq = node.sequence else { throw error("must be a list") }
        return seq.enumerated().map { YAMLNode(node: $1, path: "\(path)[\($0)]", file: file, env: env) }
    }

    /// The scalar with `${VAR}` / `${VAR:-default}` replaced from the environment.
    func string() throws(ConfigError) -> String {
        guard let s = node.scalar?.string else { throw error("must be a single value, not a list or mapping") }
        return try substitute(s)
    }

    func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int {
        let s = try string()
        guard let v = Int(s) else { throw error("must be a whole number, got \(shown(s))") }
        if let range, !range.contains(v) { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(shown(s))") }
        return v
    }

    func double(in range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double {
        let s = try string()
        guard let v = Double(s), v.isFinite else { throw error("must be a number, got \(shown(s))") }
        if let range, !range.contains(v) { throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(shown(s))") }
        return v
    }

    func bool() throws(ConfigError) -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        case let s: throw error("must be true or false, got \(shown(s))")
        }
    }

    /// A duration within `range` (by default up to ten years: anything longer is a typo).
    func duration(in range: ClosedRange<Duration> = .zero...Duration.seconds(10 * 365 * 86_400)) throws(ConfigError) -> Duration {
        let s = try string()
        guard let d = Duration.parse(s) else { throw error("must be a duration like 500ms, 10s, 30m, 2h or 1d, got \(shown(s))") }
        guard range.contains(d) else {
            throw error("must be between \(Self.describe(range.lowerBound)) and \(Self.describe(range.upperBound)), got \(shown(s))")
        }
        return d
    }

    static func describe(_ d: Duration) -> String {
        let s = d.seconds
        if s >= 86_400, s.truncatingRemainder(dividingBy: 86_400) == 0 { return "\(Int(s / 86_400))d" }
        if s >= 1, s.truncatingRemainder(dividingBy: 1) == 0 { return "\(Int(s))s" }
        return "\(Int((s * 1000).rounded()))ms"
    }

    /// A value for an error message: quoted, or named by its variable when it came from the
    /// environment (it may be a secret).
    func shown(_ value: String) -> String {
        if let raw = node.scalar?.string, raw.contains("${") { return "the value of \(raw.prefix(80))" }
        return "'\(value.prefix(80))'"
    }

    func stringList() throws(ConfigError) -> [String] {
        if node.scalar != nil { return [try string()] }
        return try requireSequence().map { n throws(ConfigError) in try n.string() }
    }

    /// Reads the secret named by a `*_env` key; a missing variable is a start-up error.
    func secret(fromEnvKey key: String) throws(ConfigError) -> String {
        guard let n = child(key) else { throw error("needs '\(key)' naming the environment variable that holds the secret") }
        let name = try n.string()
        guard let value = env[name], !value.isEmpty else {
            if !env.requireSecrets { return "" }
            throw n.error("environment variable \(name) is not set; export it before starting (secrets never go in the file)")
        }
        env.used(value)
        return value
    }

    private func substitute(_ s: String) throws(ConfigError) -> String {
        guard s.contains("${") else { return s }
        var out = "", rest = Substring(s)
        while let start = rest.range(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { throw error("has an unclosed ${ in '\(s)'") }
            let expr = rest[start.upperBound..<end]
            let parts = expr.components(separatedBy: ":-")
            let name = parts[0]
            if let v = env[name], !v.isEmpty { out += v; env.used(v) }
            else if parts.count > 1 { out += parts.dropFirst().joined(separator: ":-") }
            else { throw error("environment variable \(name) is not set (used as ${\(name)}); set it or write ${\(name):-default}") }
            rest = rest[rest.index(after: end)...]
        }
        return out + rest
    }
}

/// The environment a configuration is read with. It remembers every value it handed out, so
/// no error message can print one (a `${VAR}` or `*_env` value may be a secret).
final class ConfigEnvironment {
    private let values: [String: String]
    /// false: a missing `*_env` secret reads as empty, for commands that never use secrets
    /// (`assets validate`, `replay --shadow`).
    let requireSecrets: Bool
    private(set) var handedOut: Set<String> = []
    init(_ values: [String: String], requireSecrets: Bool = true) { self.values = values; self.requireSecrets = requireSecrets }
    subscript(name: String) -> String? { values[name] }
    func used(_ value: String) { handedOut.insert(value) }

    /// `text` with every handed-out value replaced by `•••`.
    func redact(_ text: String) -> String { Redaction.redact(text, values: handedOut) }
}

enum Suggest {
    static func closest(_ word: String, in candidates: [String]) -> String? {
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
