import MillwrightCore

extension ConfigLoader {
    /// `opcua: { host, port, pki_dir, security, modes, allow_anonymous, users, trust_all_clients,
    /// reject_at, reject_pulse }`. The secured policies need `pki_dir`, where the server's
    /// certificate is made and the trusted client certificates are kept.
    static func opcua(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> OPCUASettings {
        var s = OPCUASettings()
        for (k, v) in try n.requireMapping(allowed: ["host", "port", "pki_dir", "security", "modes", "allow_anonymous", "users",
                                                     "trust_all_clients", "reject_at", "reject_pulse"]) {
            switch k {
            case "host": s.host = try v.string()
            case "port": s.port = try v.int(in: 0...65535)
            case "pki_dir": s.pkiDir = resolvePath(try v.string())
            case "security":
                s.security = []
                for item in try v.requireSequence() {
                    let name = try item.string()
                    guard let policy = OPCUASettings.Policy(rawValue: name) else {
                        throw item.error("'\(name)' is not a security policy; use none, basic256sha256 or aes128sha256rsaoaep")
                    }
                    s.security.append(policy)
                }
                guard !s.security.isEmpty else { throw v.error("list at least one policy (none, basic256sha256, aes128sha256rsaoaep)") }
            case "modes":
                s.modes = []
                for item in try v.requireSequence() {
                    let name = try item.string()
                    guard let mode = OPCUASettings.Mode(rawValue: name) else { throw item.error("'\(name)' is not a mode; use sign or sign_and_encrypt") }
                    s.modes.append(mode)
                }
            case "allow_anonymous": s.allowAnonymous = try v.bool()
            case "users":
                var names = Set<String>()
                for u in try v.requireSequence() {
                    _ = try u.requireMapping(allowed: ["name", "password_env", "role"])
                    let name = try req(u, "name").string()
                    guard !name.isEmpty, name.utf8.count <= 128 else { throw u.error("give a name of 1-128 bytes", key: "name") }
                    guard names.insert(name).inserted else { throw u.error("user '\(name)' is listed twice", key: "name") }
                    let password = try u.secret(fromEnvKey: "password_env")
                    var role = "operator"
                    if let r = u.child("role") {
                        role = try r.string()
                        guard role == "operator" || role == "viewer" else { throw r.error("'\(role)' is not a role here; use operator or viewer") }
                    }
                    s.users.append(OPCUASettings.User(name: name, password: password, role: role))
                }
            case "trust_all_clients": s.trustAllClients = try v.bool()
            case "reject_at":
                let name = try v.string()
                guard let p = Priority(rawValue: name) else { throw v.error("'\(name)' is not a priority; use low, medium, high or critical") }
                s.rejectAt = p
            default: s.rejectPulse = try v.duration(in: .milliseconds(10)...Duration.seconds(3600))
            }
        }
        if s.pkiDir == nil, s.security.contains(where: { $0 != .none }), let security = n.child("security") {
            throw security.error("the secured policies need opcua.pki_dir, where the server certificate and the trusted client certificates live")
        }
        return s
    }
}
