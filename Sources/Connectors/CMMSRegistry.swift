import AsyncHTTPClient
import MillwrightCore

/// What a system's connector can do besides creating work orders, as implemented here (not
/// as the vendor's API could): the dashboard, `check-connection` and the docs can say it without
/// asking each connector.
public struct CMMSCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// Uploads the annotated evidence image (`attach`).
    public static let attachments = CMMSCapabilities(rawValue: 1 << 0)
    /// Finds a work order by our reference after a lost answer, so a retry does not duplicate it.
    public static let lookup = CMMSCapabilities(rawValue: 1 << 1)
    /// Reads a work order's status back (closes incidents, learns false positives).
    public static let statusRead = CMMSCapabilities(rawValue: 1 << 2)
    /// Adds a note ("3 more detections") to an open work order.
    public static let notes = CMMSCapabilities(rawValue: 1 << 3)
    /// Reads the storeroom's stock of parts (`inventory: {cmms: …}`).
    public static let stock = CMMSCapabilities(rawValue: 1 << 4)
    /// Counts each technician's open work for the planner (`routing: {load_from: …}`).
    public static let openWork = CMMSCapabilities(rawValue: 1 << 5)
    /// Reads a closed work order's closure code, notes and completion photo back (`readBack`).
    public static let readBack = CMMSCapabilities(rawValue: 1 << 6)
}

/// One CMMS system: its names, its typed options, its connector and its capabilities.
public struct CMMSKind: CMMSKindSchema {
    public let name: String
    public let block: String
    public let capabilities: CMMSCapabilities
    public let optionKeys: [String]
    let read: @Sendable (ConfigTree) throws(ConfigError) -> any CMMSOptions
    let make: @Sendable (CMMSSettings, HTTPTransport) throws -> any CMMSConnector

    /// Ties the `Options` type to the connector that takes it, so they cannot be mismatched.
    public init<Options: CMMSOptions>(_ name: String, block: String, _ options: Options.Type, capabilities: CMMSCapabilities,
                                      connector: @escaping @Sendable (CMMSSettings, Options, HTTPTransport) throws -> any CMMSConnector) {
        self.name = name; self.block = block; self.capabilities = capabilities
        optionKeys = Options.keys
        read = { block throws(ConfigError) in try Options(block: block) }
        make = { settings, http in
            guard let typed = settings.typedOptions(Options.self) else {
                throw ConnectorError.misconfigured("cmms \(settings.name): its \(block): options were not read as \(name) options (\(type(of: settings.options)))")
            }
            return try connector(settings, typed, http)
        }
    }

    public func readOptions(_ block: ConfigTree) throws(ConfigError) -> any CMMSOptions { try read(block) }
}

/// The single list of CMMS kinds: the config loader reads each `kind:` and its block through
/// it, and the gateway and the CLI build connectors from it. Adding a system is one connector
/// file (connector + `Options`), one line here, one emulator file and its line in
/// `EmulatorRegistry` (docs/adding-a-cmms.md).
///
/// Emulators are listed in their own module, keyed by the same kind names, because they must
/// not share code with the connectors (an emulator built on the connector's code could not catch
/// its bugs); `RegistryTests` holds the two lists to the same kinds.
public enum CMMSRegistry {
    public static let all: [CMMSKind] = [
        CMMSKind("sandbox", block: "sandbox", NoCMMSOptions.self, capabilities: [.attachments, .lookup, .statusRead, .notes], connector: SandboxConnector.init),
        CMMSKind("webhook", block: "webhook", WebhookOptions.self, capabilities: [], connector: WebhookConnector.init),
        CMMSKind("sap-pm", block: "sap", SAPPMOptions.self, capabilities: [.attachments, .lookup, .statusRead, .notes, .readBack], connector: SAPPMConnector.init),
        CMMSKind("maximo", block: "maximo", MaximoOptions.self, capabilities: [.attachments, .lookup, .statusRead, .notes, .readBack], connector: MaximoConnector.init),
        CMMSKind("maintainx", block: "maintainx", MaintainXOptions.self, capabilities: [.attachments, .lookup, .statusRead, .notes, .stock, .openWork, .readBack], connector: MaintainXConnector.init),
        CMMSKind("upkeep", block: "upkeep", UpKeepOptions.self, capabilities: [.attachments, .lookup, .statusRead, .readBack], connector: UpKeepConnector.init),
        CMMSKind("limble", block: "limble", LimbleOptions.self, capabilities: [.attachments, .lookup, .statusRead, .notes], connector: LimbleConnector.init),
        CMMSKind("fiix", block: "fiix", FiixOptions.self, capabilities: [.attachments, .lookup, .statusRead], connector: FiixConnector.init),
        CMMSKind("oracle-fusion", block: "oracle", OracleMaintenanceOptions.self, capabilities: [.attachments, .lookup, .statusRead], connector: OracleMaintenanceConnector.init),
        CMMSKind("hxgn-eam", block: "hxgn", HxGNEAMOptions.self, capabilities: [.lookup, .statusRead, .notes], connector: HxGNEAMConnector.init),
    ]

    public static func kind(_ name: String) -> CMMSKind? { all.first { $0.name == name } }

    /// The connector for one configured system; its options were read when the config was loaded.
    public static func makeConnector(_ settings: CMMSSettings, http: HTTPClient) throws -> any CMMSConnector {
        guard let kind = kind(settings.kind) else { throw ConnectorError.unsupportedKind(settings.kind) }
        return try kind.make(settings, HTTPTransport(client: http, timeout: settings.timeout))
    }
}
