import Foundation
import MillwrightCore

/// Reading map-valued connector options. The config loader flattens `priority_map: {critical: "1"}`
/// to `priority_map.critical`; inside a system block (`sap: {…}`) values are scalars, so a map is
/// also accepted written as one string: `status_map: "NOCO=completed, DLFL=cancelled"`.
/// Both forms work; a dotted key wins over the same key in the string form.
public enum ConnectorOptions {
    public static func map(_ options: [String: String], _ name: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in (options[name] ?? "").split(separator: ",") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2, !kv[0].isEmpty { out[kv[0]] = kv[1] }
        }
        let prefix = name + "."
        for (k, v) in options where k.hasPrefix(prefix) { out[String(k.dropFirst(prefix.count))] = v }
        return out
    }

    /// `map(options, name)[key]`.
    public static func lookup(_ options: [String: String], _ name: String, _ key: String) -> String? {
        options["\(name).\(key)"] ?? map(options, name)[key]
    }
}
