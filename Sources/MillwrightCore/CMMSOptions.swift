/// One CMMS system's own options (`maximo: { site: BEDFORD, … }`), typed, read from its block
/// when the configuration is loaded so a bad value stops `serve` and `assets validate` with
/// file, line and key before anything starts. Each connector declares its struct next to it.
public protocol CMMSOptions: Sendable {
    /// Keys its block may hold besides `CMMSSettings.commonOptionKeys`; a secret as `<name>_env`.
    static var keys: [String] { get }
    /// Reads the block (an empty mapping when the entry has none); keys are already checked.
    init(block: ConfigTree) throws(ConfigError)
}

/// For a system that reads nothing of its own (`sandbox`).
public struct NoCMMSOptions: CMMSOptions {
    public static let keys: [String] = []
    public init() {}
    public init(block: ConfigTree) {}
}

/// What the config loader needs to know of a CMMS kind. The connectors' registry provides it,
/// so the loader holds no list of kinds of its own.
public protocol CMMSKindSchema: Sendable {
    /// `kind:` in the config.
    var name: String { get }
    /// The mapping that carries its options (`sap:` for `sap-pm`).
    var block: String { get }
    var optionKeys: [String] { get }
    func readOptions(_ block: ConfigTree) throws(ConfigError) -> any CMMSOptions
}

extension CMMSSettings {
    /// Read by every connector; allowed in every system block.
    public static let commonOptionKeys = ["priority_map", "status_map", "users", "attachment_limit_bytes"]

    /// Reads a system block: the common options into their fields, the rest into the kind's
    /// `Options`. Unknown keys are refused with the closest allowed one.
    public mutating func read(block: ConfigTree, as kind: any CMMSKindSchema) throws(ConfigError) {
        let allowed = kind.optionKeys + Self.commonOptionKeys
        if let plain = block.entries.first(where: { !allowed.contains($0.key) && allowed.contains($0.key + "_env") }) {
            throw plain.value.error("is a secret: give \(plain.key)_env naming the environment variable that holds it (secrets never go in the file)")
        }
        for (key, value) in try block.mapping(allowed: allowed) {
            switch key {
            case "priority_map": try readPriorityMap(value)
            case "status_map":
                for (theirs, ours) in try value.stringMap() {
                    guard let status = CMMSStatus(rawValue: ours) else {
                        throw value.error("maps '\(theirs)' to '\(ours)', which is not a status; use one of \(CMMSStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    statusMap[theirs] = status
                }
            case "users": users.merge(try value.stringMap()) { $1 }
            case "attachment_limit_bytes": attachmentLimitBytes = try value.int(in: 1...1_000_000_000)
            default: break
            }
        }
        options = try kind.readOptions(block)
    }

    /// `priority_map: {critical: "1"}` (or `"critical=1, high=2"`): our priority → the system's value.
    public mutating func readPriorityMap(_ node: ConfigTree) throws(ConfigError) {
        let names = Priority.allCases.map(\.rawValue)
        if case .mapping = node.value { _ = try node.mapping(allowed: names) }
        for (ours, theirs) in try node.stringMap() {
            guard let p = Priority(rawValue: ours) else {
                throw node.error("'\(ours)' is not a priority; use one of \(names.joined(separator: ", "))")
            }
            priorityMap[p] = theirs
        }
    }

    /// The typed options of this entry's system; a mismatch is a wiring mistake, not a config one.
    public func typedOptions<O: CMMSOptions>(_ type: O.Type) -> O? { options as? O }
}
