import Foundation

/// The gateway's configuration as plain values (PRODUCT §5). Parsing, file/line errors
/// and environment substitution live in the `Config` module; the rules here only read it.
public struct Settings: Sendable {
    public var server = ServerSettings()
    public var storage: StorageSettings = .sqlite(path: "./data/millwright.sqlite")
    public var evidence = EvidenceSettings()
    public var cmms: [CMMSSettings] = []
    public var assets = AssetSettings()
    public var defects: [String: DefectRule] = [:]
    /// Used for defect classes that have no entry of their own (`defects: {"*": …}`).
    public var defaultDefect = DefectRule()
    public var incidents = IncidentPolicy()
    public var priority: [PriorityRule] = [PriorityRule(condition: .always, priority: .low)]
    public var site = SiteSettings()
    public var shadow = false
    public var apiKeys: [APIKeySettings] = []
    public var dispatch = DispatchPolicy()
    /// This process among the nodes sharing a PostgreSQL store (`node_id`); nil: host name and pid.
    public var nodeId: String?
    public var mqtt: MQTTSettings?
    public var opcua: OPCUASettings?
    public var planning = PlanningSettings()
    /// Values the configuration took from the environment (`${VAR}`, `*_env`): never printed.
    public var environmentValues: Set<String> = []
    public var audit = AuditSettings()
    public var compliance = ComplianceSettings()
    public var capture = CaptureSettings()

    public init() {}

    public func rule(for defectClass: String) -> DefectRule { defects[defectClass] ?? defaultDefect }

    public func cmms(named name: String?) -> CMMSSettings? {
        guard let name else { return cmms.first }
        return cmms.first { $0.name == name }
    }
}

public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var maxBodyBytes = 8 * 1024 * 1024
    public var maxBatchItems = 1000
    /// HTTPS, and with `clientCA` mutual TLS; `nil` serves plain HTTP.
    public var tls: ServerTLSSettings?
    /// Open connections past this are answered 503 and closed.
    public var maxConnections = 1024
    /// A connection must deliver its first request head within this (half-open and slowloris connections).
    public var headerTimeout: Duration = .seconds(10)
    /// A keep-alive connection with nothing to read or write is closed after this.
    public var idleTimeout: Duration = .seconds(60)
    public init() {}
}

/// PEM file paths, already resolved against the configuration file's folder.
public struct ServerTLSSettings: Sendable, Equatable {
    public var certFile: String
    public var keyFile: String
    /// When set, every client must present a certificate chaining to this CA.
    public var clientCAFile: String?
    public init(certFile: String, keyFile: String, clientCAFile: String? = nil) {
        self.certFile = certFile; self.keyFile = keyFile; self.clientCAFile = clientCAFile
    }
}

public enum StorageSettings: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresSettings)
}

public struct EvidenceSettings: Sendable {
    public var directory = "./data/evidence"
    public var publicURL: String?
    /// Key for signed, expiring evidence links (`evidence.signing_secret_env`).
    public var signingSecret: String?
    public var linkLifetime: Duration = .seconds(30 * 86400)
    /// Evidence of closed incidents older than this is deleted; `nil` keeps everything.
    public var retention: Duration?
    /// Where frames referenced by URL may be fetched from (`evidence.fetch_allow`).
    public var fetchPolicy = FetchPolicy()
    public init() {}
}

public enum CMMSAuth: Sendable, Equatable {
    case none
    case basic(user: String, password: String)
    case bearer(token: String)
    case apiKey(key: String)
    case session(user: String, password: String)
    case client(id: String, secret: String)
    case hmac(appKey: String, accessKey: String, secret: String)
}

public struct CMMSSettings: Sendable {
    public var name: String
    public var kind: String
    public var baseURL: String
    public var auth: CMMSAuth = .none
    /// The system's own options (`sap: {plant: …}`), typed by its connector and read at load.
    public var options: any CMMSOptions = NoCMMSOptions()
    /// Our priority → the system's value (`priority_map`); unmapped ones use the connector's default.
    public var priorityMap: [Priority: String] = [:]
    /// The system's status code → ours (`status_map`), added to or overriding the connector's table.
    public var statusMap: [String: CMMSStatus] = [:]
    /// Our technician ids and queue names → the system's users or `team:<group>` (`users`).
    public var users: [String: String] = [:]
    /// Overrides the connector's upload limit (`attachment_limit_bytes`).
    public var attachmentLimitBytes: Int?
    /// Parallel requests the dispatcher may have open to this system.
    public var concurrency = 4
    public var timeout: Duration = .seconds(10)
    /// How often open work orders' status is read back.
    public var statusPollInterval: Duration = .seconds(5)
    /// The work-order title as the plant's planners write it, e.g. `"{defect} {zone} – {asset_name}"`;
    /// cut to the system's title length. Nil: Millwright's default title.
    public var titleTemplate: String?
    /// Extra fields of the CMMS record (its own field names) with template values, e.g.
    /// `worktype: CM`, `glaccount: "{asset}"`, `LocationOfDamage: "{zone}"`.
    public var fields: [String: String] = [:]
    public init(name: String, kind: String, baseURL: String) {
        self.name = name; self.kind = kind; self.baseURL = baseURL
    }
}

public struct CameraMapping: Sendable, Equatable {
    public var camera: String
    public var asset: String
    public var zones: [String: String] = [:]
    public var cmms: String?
    public var criticality: Criticality = .b
    /// Where the asset stands and what kind it is, when the register does not say (routing, procedures).
    public var area: String?
    public var assetClass: String?
    /// The production line the camera watches (`line`), for the UNS topic template's `{line}`.
    public var productionLine: String?
    /// Line in the config file, for `assets validate` messages.
    public var line: Int?
    public init(camera: String, asset: String, zones: [String: String] = [:], cmms: String? = nil,
                criticality: Criticality = .b, line: Int? = nil) {
        self.camera = camera; self.asset = asset; self.zones = zones; self.cmms = cmms
        self.criticality = criticality; self.line = line
    }
}

public struct AssetSettings: Sendable {
    public var registerPath: String?
    public var cameras: [CameraMapping] = []
    public init() {}
}

public enum Criticality: String, Sendable, Codable, CaseIterable, Comparable {
    case a = "A", b = "B", c = "C"
    public static func < (l: Criticality, r: Criticality) -> Bool { l.rawValue < r.rawValue }
}

public struct PartRequirement: Sendable, Equatable, Codable {
    public var sku: String
    public var qty: Int
    public init(sku: String, qty: Int) { self.sku = sku; self.qty = qty }
}

public struct DefectRule: Sendable, Equatable {
    public var minConfidence = 0.5
    /// N qualifying detections of the same key within `confirmWithin` confirm it.
    public var confirmDetections = 1
    public var confirmWithin: Duration = .seconds(10)
    public var severityBase = 50.0
    public var procedure: String?
    public var parts: [PartRequirement] = []
    public var skills: [String] = []
    public init() {}
}

public struct IncidentPolicy: Sendable, Equatable {
    /// After an incident's work order is closed, repeats within this time are suppressed.
    public var reopenAfter: Duration = .seconds(30 * 60)
    public init() {}
}

public struct SiteSettings: Sendable, Equatable {
    public var name = "plant-1"
    public var timezone = "UTC"
    /// The ISA-95 enterprise above the site (`{enterprise}` in `mqtt.publish.topic_template`).
    public var enterprise: String?
    public init() {}
}

public enum APIRole: String, Sendable, Codable, CaseIterable {
    case ingest, viewer, `operator`, admin
}

public struct APIKeySettings: Sendable {
    public var name: String
    public var role: APIRole
    public var key: String
    public init(name: String, role: APIRole, key: String) { self.name = name; self.role = role; self.key = key }
}

public struct DispatchPolicy: Sendable, Equatable {
    public var maxAttempts = 10
    public var baseBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(60)
    /// How long a claimed work order is this node's alone; then another node may take it over
    /// (after a lookup). Longer than a delivery attempt with its evidence can take.
    public var lease: Duration = .seconds(120)
    public init() {}
}

/// `audit:` — seals the audit trail with a key and checkpoints its head to a file outside
/// the database. Without a key the chain is plain SHA-256.
public struct AuditSettings: Sendable {
    /// The environment variable named by `key_env`, and its value.
    public var keyEnv: String?
    public var key: AuditKey?
    /// Defaults to `audit.checkpoints` beside the SQLite database when a key is set.
    public var checkpointsPath: String?
    public var checkpointEvery: Duration = .seconds(60)
    public init() {}
}

extension Duration {
    public var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    public static let maxParsedSeconds = 100 * 365 * 86_400.0

    /// Parses `500ms`, `10s`, `30m`, `2h`, `1d` (or a bare number of seconds), up to a century.
    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        var number = Substring(t), factor = 1.0
        if let (suffix, f) = units.first(where: { t.hasSuffix($0.0) }) { number = t.dropLast(suffix.count); factor = f }
        // Past a century a duration is a typo (1e17s), and its milliseconds would overflow Int64.
        guard let n = Double(number), n.isFinite, n >= 0, n * factor <= maxParsedSeconds else { return nil }
        return .milliseconds(Int64((n * factor * 1000).rounded()))
    }
}

/// `mqtt:` — ingest from and publish to a broker (PRODUCT §5, §7).
public struct MQTTSettings: Sendable {
    public var broker: String
    public var clientId = "millwright"
    public var protocolVersion = 5
    public var username: String?
    public var password: String?
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    /// Several gateway nodes split one stream: every source is subscribed as `$share/<group>/<topic>`.
    public var sharedGroup: String?
    public var sources: [MQTTSource] = []
    /// Vision label → defect class; unknown labels are kept as they are.
    public var labels: [String: String] = [:]
    /// `publish: {prefix, site}`; nil publishes nothing.
    public var publishPrefix: String?
    public var publishSite: String?
    /// `publish.topic_template`: the UNS path of each camera's leaves; nil keeps `<prefix>/<site>/<camera>`.
    public var topicTemplate: UNSTopicTemplate?
    /// The template's line in the config file, for start-up errors about it.
    public var topicTemplateLine: Int?
    /// `sparkplug:`; nil publishes no Sparkplug B.
    public var sparkplug: SparkplugSettings?
    /// Recipients (notification names) told when the broker may have lost messages.
    public var alert: [String] = []
    public init(broker: String) { self.broker = broker }
}

/// `mqtt.sparkplug:` — a Sparkplug B 3.0 edge node beside the JSON publishing.
public struct SparkplugSettings: Sendable, Equatable {
    public var groupId: String
    public var edgeNodeId: String
    /// The primary host application whose `spBv1.0/STATE/<id>` must be online before publishing.
    public var primaryHostId: String?
    /// DCMD writes to `Inspection/RejectPart` are honoured (and audited) only when set.
    public var allowCommands = false
    public init(groupId: String, edgeNodeId: String) { self.groupId = groupId; self.edgeNodeId = edgeNodeId }
}

public struct MQTTSource: Sendable, Equatable {
    public var topic: String
    public var format: String
    /// 0-based topic level holding the camera id (`vision/+/detections` → 1).
    public var cameraFromTopic: Int?
    public var frigateURL: String?
    /// 0…1, used only when a payload carries no detector confidence.
    public var assumedConfidence: Double?
    public var line: Int?
    public init(topic: String, format: String) { self.topic = topic; self.format = format }
}

/// Keeps values that came from the environment (possibly secrets) out of messages.
public enum Redaction {
    /// Values shorter than this are left alone: replacing "t" or "on" would garble the
    /// message without protecting anything.
    public static let minLength = 4

    public static func redact(_ text: String, values: Set<String>) -> String {
        // Longest first, so a value containing another is replaced whole.
        values.filter { $0.count >= minLength }.sorted { $0.count > $1.count }
            .reduce(text) { $0.replacingOccurrences(of: $1, with: "•••") }
    }
}
