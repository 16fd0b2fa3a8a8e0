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
                throw ConfigError.unknownKey(key, allowed: allowed, file: file, line: k.mark?.line, path: child.path)
            }
            out.append((key, child))
        }
        return out
    }

    func requireSequence() throws(ConfigError) -> [YAMLNode] {
        guard let seq = node.sequence else { throw error("must be a list") }
        return seq.enumerated().map { YAMLNode(node: $1, path: "\(path)[\($0)]", file: file, env: env) }
    }

    /// The scalar with `${VAR}` / `${VAR:-default}` replaced from the environment, located; the
    /// typed readings (`int`, `duration`, …) and their messages are `ConfigTree`'s.
    func scalar() throws(ConfigError) -> ConfigTree {
        guard let raw = node.scalar?.string else { throw error("must be a single value, not a list or mapping") }
        return ConfigTree(.scalar(try substitute(raw)), file: file, line: line, path: path, writtenAs: raw.contains("${") ? raw : nil)
    }

    func string() throws(ConfigError) -> String { try scalar().string() }
    func int(in range: ClosedRange<Int>? = nil) throws(ConfigError) -> Int { try scalar().int(in: range) }
    func double(in range: ClosedRange<Double>? = nil) throws(ConfigError) -> Double { try scalar().double(in: range) }
    func bool() throws(ConfigError) -> Bool { try scalar().bool() }

    /// A duration within `range` (by default up to ten years: anything longer is a typo).
    func duration(in range: ClosedRange<Duration> = .zero...Duration.seconds(10 * 365 * 86_400)) throws(ConfigError) -> Duration {
        try scalar().duration(in: range)
    }

    func stringList() throws(ConfigError) -> [String] {
        if node.scalar != nil { return [try string()] }
        return try requireSequence().map { n throws(ConfigError) in try n.string() }
    }

    /// This node and everything under it as a `ConfigTree`, for readers outside this module (a
    /// connector's options). A `<name>_env` key carries its variable's value: a missing one is
    /// reported when the reader asks for the secret, so an unknown key is still reported first.
    func tree() throws(ConfigError) -> ConfigTree {
        if let mapping = node.mapping {
            var entries: [ConfigTree.Entry] = []
            for (k, _) in mapping {
                guard let key = k.string else { throw error("has a key that is not text") }
                guard let child = child(key) else { continue }
                var value = try child.tree()
                if key.hasSuffix("_env"), case .scalar(let variable) = value.value {
                    value.environmentValue = env.secret(named: variable)
                }
                entries.append(ConfigTree.Entry(key: key, keyLine: k.mark?.line, value: value))
            }
            return ConfigTree(.mapping(entries), file: file, line: line, path: path)
        }
        if node.sequence != nil {
            return ConfigTree(.sequence(try requireSequence().map { n throws(ConfigError) in try n.tree() }), file: file, line: line, path: path)
        }
        return try scalar()
    }

    /// Reads the secret named by a `*_env` key; a missing variable is a start-up error.
    func secret(fromEnvKey key: String) throws(ConfigError) -> String {
        guard let n = child(key) else { throw error("needs '\(key)' naming the environment variable that holds the secret") }
        let name = try n.string()
        guard let value = env.secret(named: name) else {
            throw n.error("environment variable \(name) is not set; export it before starting (secrets never go in the file)")
        }
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

    /// A secret's value, remembered for redaction; nil when unset and secrets are required,
    /// empty when they are not.
    func secret(named name: String) -> String? {
        guard let value = values[name], !value.isEmpty else { return requireSecrets ? nil : "" }
        used(value)
        return value
    }

    /// `text` with every handed-out value replaced by `•••`.
    func redact(_ text: String) -> String { Redaction.redact(text, values: handedOut) }
}
