import Foundation
import MillwrightCore
import Yams

/// Reads the one YAML file of PRODUCT §5 into `Settings`. Every error names the file,
/// line and key; a file with any error is refused whole, so the gateway never half-starts.
public enum ConfigLoader {
    static let topLevel = ["server", "storage", "evidence", "cmms", "assets", "defects", "incidents", "priority", "site",
                           "shifts", "technicians", "inventory", "shadow", "auth", "mqtt", "dispatch", "notifications", "procedures",
                           "routing", "escalation", "audit", "node_id", "compliance", "opcua", "capture"]

    /// `cmmsKinds` are the systems this build speaks (`CMMSRegistry.all`): each reads its own
    /// block, so the loader keeps no list of kinds or options.
    /// `requireSecrets: false` reads a missing `*_env` secret as empty, for commands that only
    /// look at the mapping and the rules and never talk to a CMMS.
    public static func load(path: String, cmmsKinds: [any CMMSKindSchema], environment: [String: String] = ProcessInfo.processInfo.environment,
                            requireSecrets: Bool = true) throws(ConfigError) -> Settings {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigError(file: path, line: nil, key: "", message: "cannot read the file (\(error.localizedDescription))")
        }
        return try parse(yaml: text, file: path, cmmsKinds: cmmsKinds, environment: environment, requireSecrets: requireSecrets)
    }

    public static func parse(yaml: String, file: String, cmmsKinds: [any CMMSKindSchema], environment: [String: String] = [:],
                             requireSecrets: Bool = true) throws(ConfigError) -> Settings {
        let node: Node?
        do { node = try Yams.compose(yaml: yaml) } catch let e as YamlError {
            throw yamlError(e, file: file)
        } catch {
            throw ConfigError(file: file, line: nil, key: "", message: "is not valid YAML: \(error)")
        }
        guard let node else { throw ConfigError(file: file, line: nil, key: "", message: "is empty") }
        let env = ConfigEnvironment(environment, requireSecrets: requireSecrets)
        let root = YAMLNode(node: node, path: "", file: file, env: env)
        do {
            var s = try settings(root, file: file, cmmsKinds: cmmsKinds)
            s.environmentValues = env.handedOut
            return s
        } catch {
            var redacted = error
            redacted.message = env.redact(error.message)
            redacted.key = env.redact(error.key)
            throw redacted
        }
    }

    static func settings(_ root: YAMLNode, file: String, cmmsKinds: [any CMMSKindSchema]) throws(ConfigError) -> Settings {
        var s = Settings()
        let baseDir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        func resolvePath(_ p: String) -> String { p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDir).appendingPathComponent(p).standardized.path }

        for (key, n) in try root.requireMapping(allowed: topLevel) {
            switch key {
            case "server": s.server = try server(n, resolvePath: resolvePath)
            case "storage":
                let m = try n.requireMapping(allowed: ["sqlite", "postgres"])
                guard m.count == 1, let (k, v) = m.first else {
                    throw n.error("give exactly one of sqlite: PATH or postgres: { url_env: VAR }")
                }
                s.storage = k == "sqlite" ? .sqlite(path: resolvePath(try v.string())) : .postgres(try postgres(v))
            case "evidence":
                for (k, v) in try n.requireMapping(allowed: ["directory", "public_url", "retention", "signing_secret_env", "link_lifetime", "fetch_allow"]) {
                    switch k {
                    case "fetch_allow":
                        s.evidence.fetchPolicy.allowsPublic = false
                        s.evidence.fetchPolicy.entries = try v.requireSequence().map { e throws(ConfigError) in
                            switch FetchPolicy.parse(try e.string()) {
                            case .success(let entry): return entry
                            case .failure(let p): throw e.error("\(p.problem): give a hostname, host:port, an address or a CIDR block (10.20.0.0/16)")
                            }
                        }
                    case "directory": s.evidence.directory = resolvePath(try v.string())
                    case "public_url": s.evidence.publicURL = try v.string().trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                    case "signing_secret_env": s.evidence.signingSecret = try n.secret(fromEnvKey: k)
                    case "link_lifetime": s.evidence.linkLifetime = try v.duration(in: .seconds(60)...Duration.seconds(10 * 365 * 86_400))
                    case "retention": s.evidence.retention = try v.duration(in: .seconds(3600)...Duration.seconds(100 * 365 * 86_400))
                    default: break
                    }
                }
            case "cmms":
                s.cmms = try n.requireSequence().map { c throws(ConfigError) in try cmms(c, kinds: cmmsKinds) }
                var names = Set<String>()
                for (i, c) in s.cmms.enumerated() where !names.insert(c.name).inserted {
                    throw ConfigError(file: file, line: n.node.sequence?[i].mark?.line, key: "cmms[\(i)].name", message: "'\(c.name)' is used twice")
                }
            case "assets":
                for (k, v) in try n.requireMapping(allowed: ["register", "cameras"]) {
                    if k == "register" { s.assets.registerPath = resolvePath(try v.string()) }
                    else { s.assets.cameras = try v.requireSequence().map { c throws(ConfigError) in try camera(c) } }
                }
            case "defects":
                for (name, v) in try n.requireMapping() {
                    let rule = try defect(v)
                    if name == "*" { s.defaultDefect = rule } else { s.defects[name] = rule }
                }
            case "incidents":
                for (_, v) in try n.requireMapping(allowed: ["reopen_after"]) { s.incidents.reopenAfter = try v.duration() }
            case "priority":
                s.priority = try n.requireSequence().map { r throws(ConfigError) in try priorityRule(r) }
                if s.priority.isEmpty { throw n.error("needs at least one rule; end with { priority: low } as a catch-all") }
            case "site":
                for (k, v) in try n.requireMapping(allowed: ["name", "timezone", "enterprise"]) {
                    if k == "name" { s.site.name = try v.string() }
                    else if k == "enterprise" { s.site.enterprise = try v.string() }
                    else {
                        let tz = try v.string()
                        guard TimeZone(identifier: tz) != nil else { throw v.error("'\(tz)' is not an IANA time zone (e.g. Europe/Berlin)") }
                        s.site.timezone = tz
                    }
                }
            case "shadow": s.shadow = try n.bool()
            case "auth":
                for (k, v) in try n.requireMapping(allowed: ["api_keys"]) where k == "api_keys" {
                    s.apiKeys = try v.requireSequence().map { a throws(ConfigError) in try apiKey(a) }
                }
            case "dispatch":
                for (k, v) in try n.requireMapping(allowed: ["max_attempts", "base_backoff", "max_backoff", "lease"]) {
                    switch k {
                    case "max_attempts": s.dispatch.maxAttempts = try v.int(in: 1...1000)
                    case "base_backoff": s.dispatch.baseBackoff = try v.duration()
                    case "lease":
                        let lease = try v.duration()
                        guard lease >= .seconds(2), lease <= .seconds(3600) else {
                            throw v.error("give 2s to 1h: how long a node holds a claimed work order before another may take it over")
                        }
                        s.dispatch.lease = lease
                    default: s.dispatch.maxBackoff = try v.duration()
                    }
                }
            case "node_id":
                let id = try n.string()
                guard (1...128).contains(id.utf8.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
                    throw n.error("give 1-128 characters of letters, digits, '.', '_' or '-' (default: host name and process id)")
                }
                s.nodeId = id
            case "mqtt":
                s.mqtt = try mqtt(n, resolvePath: resolvePath)
            case "opcua":
                s.opcua = try opcua(n, resolvePath: resolvePath)
            case "shifts": s.planning.shifts = try shifts(n)
            case "technicians":
                if n.node.scalar != nil {
                    s.planning.rosterPath = resolvePath(try n.string())
                } else {
                    var ids = Set<String>()
                    for t in try n.requireSequence() {
                        let (tech, notify) = try technician(t)
                        guard ids.insert(tech.id).inserted else { throw t.error("technician id \(tech.id) is used twice") }
                        s.planning.technicians.append(tech)
                        if let notify { s.planning.notifications.recipients[tech.id] = notify }
                    }
                }
            case "routing": try routing(n, into: &s.planning)
            case "procedures": s.planning.proceduresDirectory = resolvePath(try n.string())
            case "inventory":
                if n.node.scalar != nil {
                    s.planning.inventoryPath = resolvePath(try n.string())
                } else {
                    for (k, v) in try n.requireMapping(allowed: ["csv", "cmms", "refresh"]) {
                        switch k {
                        case "csv": s.planning.inventoryPath = resolvePath(try v.string())
                        case "cmms": s.planning.inventoryCMMS = try v.string()
                        default: s.planning.cmmsRefresh = try v.duration()
                        }
                    }
                }
            case "notifications":
                // Technicians' own notify: blocks (read above or below) are kept.
                let own = s.planning.notifications.recipients
                s.planning.notifications = try notifications(n, resolvePath: resolvePath)
                s.planning.notifications.recipients.merge(own) { _, technician in technician }
            case "escalation": s.planning.escalation = try escalation(n)
            case "audit": s.audit = try audit(n, resolvePath: resolvePath)
            case "compliance": s.compliance = try compliance(n)
            case "capture": s.capture = try capture(n)
            default:
                break
            }
        }
        try checkShifts(s, file: file, root: root)
        s.capture.fetchPolicy = s.evidence.fetchPolicy
        try checkCaptureURLs(root.child("capture"), capture: s.capture, policy: s.evidence.fetchPolicy)
        try defaultCheckpoints(&s, root: root)
        for (key, name) in [("inventory.cmms", s.planning.inventoryCMMS), ("routing.load_from", s.planning.loadFromCMMS)] {
            if let name, s.cmms(named: name) == nil {
                throw ConfigError(file: file, line: nil, key: key, message: "names cmms '\(name)', which is not under cmms: (have: \(s.cmms.map(\.name).joined(separator: ", ")))")
            }
        }
        for cam in s.assets.cameras {
            if let name = cam.cmms, s.cmms(named: name) == nil {
                throw ConfigError(file: file, line: cam.line, key: "assets.cameras", message: "camera \(cam.camera) names cmms '\(name)', which is not in cmms: (have: \(s.cmms.map(\.name).joined(separator: ", ")))")
            }
        }
        return s
    }

    static func cmms(_ n: YAMLNode, kinds: [any CMMSKindSchema]) throws(ConfigError) -> CMMSSettings {
        let kindNames = kinds.map(\.name)
        let systemKeys = kinds.map(\.block) + ["options"]
        let m = try n.requireMapping(allowed: ["name", "kind", "base_url", "auth", "concurrency", "timeout", "status_poll", "priority_map", "title", "fields"] + systemKeys)
        guard let nameNode = n.child("name") else { throw n.error("needs a name") }
        guard let kindNode = n.child("kind") else { throw n.error("needs a kind (\(kindNames.joined(separator: " | ")))") }
        let kindName = try kindNode.string()
        guard let kind = kinds.first(where: { $0.name == kindName }) else {
            let hint = Suggest.closest(kindName, in: kindNames).map { " (did you mean '\($0)'?)" } ?? ""
            throw kindNode.error("'\(kindName)' is not a supported CMMS\(hint); use one of \(kindNames.joined(separator: ", "))")
        }
        guard let urlNode = n.child("base_url") else { throw n.error("needs base_url") }
        let url = try urlNode.string()
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme), parsed.host != nil else {
            throw urlNode.error("'\(url)' is not an http(s) URL")
        }
        var c = CMMSSettings(name: try nameNode.string(), kind: kindName, baseURL: url.hasSuffix("/") ? String(url.dropLast()) : url)
        var block: ConfigTree?
        for (k, v) in m {
            switch k {
            case "auth": c.auth = try auth(v)
            case "concurrency": c.concurrency = try v.int(in: 1...64)
            case "timeout": c.timeout = try v.duration(in: .milliseconds(100)...Duration.seconds(600))
            case "status_poll": c.statusPollInterval = try v.duration(in: .milliseconds(100)...Duration.seconds(86_400))
            case "title": c.titleTemplate = try WorkOrderTemplate.checked(try v.string(), at: v)
            case "fields":
                for (fk, fv) in try v.requireMapping() { c.fields[fk] = try WorkOrderTemplate.checked(try fv.string(), at: fv) }
            case "priority_map": try c.readPriorityMap(try v.tree())
            case _ where systemKeys.contains(k):
                guard k == "options" || k == kind.block else {
                    throw v.error("a \(kindName) system reads its options from '\(kind.block):', not '\(k):'")
                }
                block = try v.tree()
            default: break
            }
        }
        // Read even when the block is absent, so a required option is reported at this entry.
        try c.read(block: block ?? .emptyMapping(file: n.file, line: n.line, path: n.path.isEmpty ? kind.block : "\(n.path).\(kind.block)"), as: kind)
        return c
    }

    static let visionFormats = ["native", "deepstream", "frigate", "ultralytics", "roboflow", "landinglens", "coco"]

    static func mqtt(_ n: YAMLNode, resolvePath: (String) -> String) throws(ConfigError) -> MQTTSettings {
        let m = try n.requireMapping(allowed: ["broker", "client_id", "protocol", "username", "password_env", "ca", "cert", "key",
                                               "shared_group", "sources", "labels", "publish", "alert", "sparkplug"])
        let brokerNode = try req(n, "broker")
        let broker = try brokerNode.string()
        guard let u = URL(string: broker), ["mqtt", "mqtts"].contains(u.scheme ?? ""), u.host != nil else {
            throw brokerNode.error("'\(broker)' is not an mqtt:// or mqtts:// URL")
        }
        var s = MQTTSettings(broker: broker)
        for (k, v) in m {
            switch k {
            case "client_id": s.clientId = try v.string()
            case "protocol":
                let p = try v.string()
                guard p == "5" || p == "3.1.1" else { throw v.error("must be 5 or 3.1.1") }
                s.protocolVersion = p == "5" ? 5 : 4
            case "username": s.username = try v.string()
            case "password_env": s.password = try n.secret(fromEnvKey: k)
            case "ca": s.caFile = resolvePath(try v.string())
            case "cert": s.certFile = resolvePath(try v.string())
            case "key": s.keyFile = resolvePath(try v.string())
            case "shared_group": s.sharedGroup = try v.string()
            case "alert": s.alert = try v.stringList()
            case "labels": for (lk, lv) in try v.requireMapping() { s.labels[lk] = try lv.string() }
            case "publish":
                for (pk, pv) in try v.requireMapping(allowed: ["prefix", "site", "topic_template"]) {
                    switch pk {
                    case "prefix": s.publishPrefix = try pv.string()
                    case "topic_template":
                        let text = try pv.string()
                        do { s.topicTemplate = try UNSTopicTemplate(parsing: text) } catch { throw pv.error(error.problem) }
                        s.topicTemplateLine = pv.line
                    default: s.publishSite = try pv.string()
                    }
                }
                if s.publishPrefix == nil { s.publishPrefix = "millwright" }
            case "sparkplug": s.sparkplug = try sparkplug(v)
            case "sources":
                s.sources = try v.requireSequence().map { src throws(ConfigError) in
                    _ = try src.requireMapping(allowed: ["topic", "format", "camera_from_topic", "frigate_url", "assumed_confidence"])
                    let fNode = try req(src, "format")
                    let format = try fNode.string()
                    guard visionFormats.contains(format) || format == "auto" || format == "snapshot" else {
                        throw fNode.error("'\(format)' is not a vision format; use one of \(visionFormats.joined(separator: ", ")), auto, or snapshot (raw camera frames)")
                    }
                    var source = MQTTSource(topic: try req(src, "topic").string(), format: format)
                    if source.topic.isEmpty || source.topic.contains("#") && !source.topic.hasSuffix("#") {
                        throw src.error("topic '\(source.topic)' is not a valid MQTT topic filter")
                    }
                    source.cameraFromTopic = try src.child("camera_from_topic")?.int(in: 0...32)
                    if format == "snapshot" && source.cameraFromTopic == nil {
                        throw src.error("a snapshot source needs camera_from_topic (e.g. 1 for frigate/<camera>/<label>/snapshot)")
                    }
                    source.frigateURL = try src.child("frigate_url")?.string()
                    source.assumedConfidence = try src.child("assumed_confidence")?.double(in: 0...1)
                    source.line = src.line
                    return source
                }
            default: break
            }
        }
        return s
    }

    /// Sparkplug ids are topic levels: no `/`, `+` or `#` (Sparkplug 3.0), and bounded.
    static func sparkplugId(_ n: YAMLNode) throws(ConfigError) -> String {
        let id = try n.string()
        guard (1...64).contains(id.utf8.count), !id.contains(where: { "/+#".contains($0) || $0.isWhitespace }) else {
            throw n.error("give 1-64 bytes without '/', '+', '#' or spaces (it is a Sparkplug topic level)")
        }
        return id
    }

    static func sparkplug(_ n: YAMLNode) throws(ConfigError) -> SparkplugSettings {
        _ = try n.requireMapping(allowed: ["group_id", "edge_node_id", "primary_host_id", "allow_commands"])
        var s = SparkplugSettings(groupId: try sparkplugId(try req(n, "group_id")), edgeNodeId: try sparkplugId(try req(n, "edge_node_id")))
        if let h = n.child("primary_host_id") { s.primaryHostId = try sparkplugId(h) }
        if let a = n.child("allow_commands") { s.allowCommands = try a.bool() }
        return s
    }

    /// The topic template must be fillable for every configured camera, its area and location
    /// possibly from the register: checked at start, once the register is read. The error
    /// names the camera's entry and the key to add there (or `site.enterprise`).
    public static func checkTopicTemplate(_ s: Settings, register: AssetRegister?, file: String) throws(ConfigError) {
        guard let mqtt = s.mqtt, let template = mqtt.topicTemplate else { return }
        let site = mqtt.publishSite ?? s.site.name
        if template.placeholdersUsed.contains("enterprise"), (s.site.enterprise.flatMap(UNSTopicTemplate.sanitise)) == nil {
            throw ConfigError(file: file, line: mqtt.topicTemplateLine, key: "site.enterprise",
                              message: "mqtt.publish.topic_template uses {enterprise}: set site.enterprise")
        }
        let source = ["area": "area (or the register's area column)", "line": "line", "location": "the register's location column",
                      "asset": "asset", "site": "site.name", "camera": "camera"]
        for (i, cam) in s.assets.cameras.enumerated() {
            let values = UNSTopicTemplate.values(camera: cam, site: site, enterprise: s.site.enterprise, register: register)
            if let missing = template.unfilled(values).first {
                let key = missing == "area" || missing == "line" ? "assets.cameras[\(i)].\(missing)" : "assets.cameras[\(i)]"
                throw ConfigError(file: file, line: cam.line, key: key,
                                  message: "camera \(cam.camera) has no \(source[missing] ?? missing) for {\(missing)} in mqtt.publish.topic_template")
            }
        }
    }

    static func auth(_ n: YAMLNode) throws(ConfigError) -> CMMSAuth {
        let m = try n.requireMapping(allowed: ["basic", "bearer", "apikey", "session", "client", "hmac", "none"])
        guard m.count == 1, let (k, v) = m.first else { throw n.error("give exactly one auth form: basic, bearer, apikey, session, client or hmac") }
        switch k {
        case "basic":
            _ = try v.requireMapping(allowed: ["user", "password_env"])
            return .basic(user: try req(v, "user").string(), password: try v.secret(fromEnvKey: "password_env"))
        case "session":
            _ = try v.requireMapping(allowed: ["user", "password_env"])
            return .session(user: try req(v, "user").string(), password: try v.secret(fromEnvKey: "password_env"))
        case "bearer":
            _ = try v.requireMapping(allowed: ["token_env"])
            return .bearer(token: try v.secret(fromEnvKey: "token_env"))
        case "apikey":
            _ = try v.requireMapping(allowed: ["key_env"])
            return .apiKey(key: try v.secret(fromEnvKey: "key_env"))
        case "client":
            _ = try v.requireMapping(allowed: ["id", "secret_env"])
            return .client(id: try req(v, "id").string(), secret: try v.secret(fromEnvKey: "secret_env"))
        case "hmac":
            _ = try v.requireMapping(allowed: ["app_key", "access_key", "secret_env"])
            return .hmac(appKey: try req(v, "app_key").string(), accessKey: try req(v, "access_key").string(),
                         secret: try v.secret(fromEnvKey: "secret_env"))
        default:
            return .none
        }
    }

    static func req(_ n: YAMLNode, _ key: String) throws(ConfigError) -> YAMLNode {
        guard let c = n.child(key) else { throw n.error("needs '\(key)'") }
        return c
    }

    static func camera(_ n: YAMLNode) throws(ConfigError) -> CameraMapping {
        _ = try n.requireMapping(allowed: ["camera", "asset", "zones", "cmms", "criticality", "area", "asset_class", "line"])
        var c = CameraMapping(camera: try req(n, "camera").string(), asset: try req(n, "asset").string(), line: n.line)
        if let z = n.child("zones") { for (k, v) in try z.requireMapping() { c.zones[k] = try v.string() } }
        if let v = n.child("cmms") { c.cmms = try v.string() }
        if let v = n.child("area") { c.area = try v.string() }
        if let v = n.child("line") { c.productionLine = try v.string() }
        if let v = n.child("asset_class") { c.assetClass = try v.string() }
        if let v = n.child("criticality") {
            let s = try v.string()
            guard let crit = Criticality(rawValue: s.uppercased()) else { throw v.error("must be A, B or C, got '\(s)'") }
            c.criticality = crit
        }
        return c
    }

    static func defect(_ n: YAMLNode) throws(ConfigError) -> DefectRule {
        var r = DefectRule()
        for (k, v) in try n.requireMapping(allowed: ["min_confidence", "confirm", "severity", "procedure", "parts", "skills"]) {
            switch k {
            case "min_confidence": r.minConfidence = try v.double(in: 0...1)
            case "confirm":
                for (ck, cv) in try v.requireMapping(allowed: ["detections", "within"]) {
                    if ck == "detections" { r.confirmDetections = try cv.int(in: 1...1000) } else { r.confirmWithin = try cv.duration() }
                }
            case "severity":
                for (_, sv) in try v.requireMapping(allowed: ["base"]) { r.severityBase = try sv.double(in: 0...100) }
            case "procedure": r.procedure = try v.string()
            case "parts":
                r.parts = try v.requireSequence().map { p throws(ConfigError) in
                    _ = try p.requireMapping(allowed: ["sku", "qty"])
                    return PartRequirement(sku: try req(p, "sku").string(), qty: try p.child("qty")?.int(in: 1...100_000) ?? 1)
                }
            default: r.skills = try v.stringList()
            }
        }
        return r
    }

    static func priorityRule(_ n: YAMLNode) throws(ConfigError) -> PriorityRule {
        _ = try n.requireMapping(allowed: ["when", "priority", "notify"])
        let pNode = try req(n, "priority")
        let ps = try pNode.string()
        guard let p = Priority(rawValue: ps) else { throw pNode.error("must be one of critical, high, medium, low; got '\(ps)'") }
        var cond = Condition.always
        if let w = n.child("when") {
            do { cond = try Condition.parse(try w.string()) } catch let e as FieldProblem { throw w.error(e.problem) } catch {
                throw w.error("\(error)")
            }
        }
        return PriorityRule(condition: cond, priority: p, notify: try n.child("notify")?.stringList() ?? [])
    }

    static func apiKey(_ n: YAMLNode) throws(ConfigError) -> APIKeySettings {
        _ = try n.requireMapping(allowed: ["name", "role", "key_env"])
        let roleNode = try req(n, "role")
        let role = try roleNode.string()
        guard let r = APIRole(rawValue: role) else { throw roleNode.error("must be one of ingest, viewer, operator, admin; got '\(role)'") }
        return APIKeySettings(name: try req(n, "name").string(), role: r, key: try n.secret(fromEnvKey: "key_env"))
    }

    static func yamlError(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, key: "", message: "YAML syntax: \(problem)")
        default:
            return ConfigError(file: file, line: nil, key: "", message: "is not valid YAML: \(e)")
        }
    }
}

extension WorkOrderTemplate {
    /// The template text, or an error naming the unknown placeholder and the known ones.
    static func checked(_ text: String, at node: YAMLNode) throws(ConfigError) -> String {
        if let bad = unknownPlaceholders(in: text).first {
            throw node.error("unknown placeholder {\(bad)}; use one of \(placeholders.keys.sorted().map { "{\($0)}" }.joined(separator: " "))")
        }
        return text
    }
}
