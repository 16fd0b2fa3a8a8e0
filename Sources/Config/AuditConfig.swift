import Foundation
import MillwrightCore

extension ConfigLoader {
    /// `audit: { key_env, checkpoints, checkpoint_every }`. Errors name the variable, never its value.
    static func audit(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> AuditSettings {
        var a = AuditSettings()
        for (k, v) in try n.requireMapping(allowed: ["key_env", "checkpoints", "checkpoint_every"]) {
            switch k {
            case "key_env":
                let name = try v.string()
                guard let key = AuditKey(secret: try n.secret(fromEnvKey: k)) else {
                    throw v.error("environment variable \(name) holds fewer than \(AuditKey.minimumBytes) bytes; use a random key (e.g. openssl rand -hex 32)")
                }
                a.keyEnv = name
                a.key = key
            case "checkpoints": a.checkpointsPath = resolvePath(try v.string())
            default:
                let every = try v.duration()
                guard every >= .seconds(1), every <= .seconds(86400) else { throw v.error("must be between 1s and 1d, got '\(try v.string())'") }
                a.checkpointEvery = every
            }
        }
        if a.key == nil {
            for k in ["checkpoints", "checkpoint_every"] where n.child(k) != nil {
                throw n.error("needs key_env: checkpoints are signed with the audit key", key: n.path + "." + k)
            }
        }
        return a
    }

    /// With a key and no `audit.checkpoints`, the checkpoint file is `audit.checkpoints` beside the SQLite database.
    static func defaultCheckpoints(_ s: inout Settings, root: YAMLNode) throws(ConfigError) {
        guard s.audit.key != nil, s.audit.checkpointsPath == nil else { return }
        guard case .sqlite(let db) = s.storage else {
            throw root.child("audit").map { $0.error("needs checkpoints: PATH (there is no SQLite file to put it beside)") }
                ?? root.error("audit.checkpoints is required")
        }
        s.audit.checkpointsPath = URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("audit.checkpoints").path
    }
}
