import Foundation
import Yams
import MillwrightCore

/// A tenant's master data for `millwright emulate KIND --tenant FILE` (or `--tenant-from-register
/// assets.csv`): with it an emulator refuses a work order that names an asset, functional location,
/// user, category or priority the tenant does not have, in that system's own error shape. A table left
/// out (or empty) is not checked; without a tenant nothing is, as before.
///
/// ```yaml
/// assets:                      # equipment / assets; a bare id or a map
///   - id: CV-100
///     number: 3301             # the numeric id in systems that number assets (MaintainX, Limble, Fiix)
///     name: Main conveyor
///     functional_location: PLANT-A-L1-CV
///   - PMP-7
/// functional_locations: [PLANT-A-L1-CV]
/// categories: [Mechanical, Electrical]
/// priorities: ["1", "2", "3", "4"]
/// users:                       # user ids, person codes or e-mails; `number` for numeric user ids
///   - id: ortiz@plant.example
///     number: 4711
/// statuses: [WAPPR, APPR, INPRG, COMP, CLOSE, CAN]   # replaces the emulator's status table where it has one
/// ```
public struct TenantData: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var id: String
        public var number: Int?
        public var name: String?
        public var functionalLocation: String?
        public var location: String?
        public init(id: String, number: Int? = nil, name: String? = nil, functionalLocation: String? = nil, location: String? = nil) {
            self.id = id; self.number = number; self.name = name; self.functionalLocation = functionalLocation; self.location = location
        }
    }

    public var assets: [Entry] = []
    public var functionalLocations: [String] = []
    public var categories: [String] = []
    public var priorities: [String] = []
    public var users: [Entry] = []
    public var statuses: [String] = []

    public init(assets: [Entry] = [], functionalLocations: [String] = [], categories: [String] = [], priorities: [String] = [],
                users: [Entry] = [], statuses: [String] = []) {
        self.assets = assets; self.functionalLocations = functionalLocations; self.categories = categories
        self.priorities = priorities; self.users = users; self.statuses = statuses
    }

    // MARK: Checks (true when the table is absent: nothing to check against)

    public func knowsAsset(_ value: String) -> Bool {
        assets.isEmpty || assets.contains { $0.id.caseInsensitiveCompare(value) == .orderedSame || $0.number.map(String.init) == value }
    }
    public func knowsAsset(number: Double) -> Bool { assets.isEmpty || assets.contains { $0.number.map(Double.init) == number } }
    public func knowsFunctionalLocation(_ value: String) -> Bool {
        let all = functionalLocations + assets.compactMap(\.functionalLocation)
        return all.isEmpty || all.contains { $0.caseInsensitiveCompare(value) == .orderedSame }
    }
    public func knowsUser(_ value: String) -> Bool {
        users.isEmpty || users.contains { $0.id.caseInsensitiveCompare(value) == .orderedSame || $0.number.map(String.init) == value }
    }
    public func knowsUser(number: Double) -> Bool { users.isEmpty || users.contains { $0.number.map(Double.init) == number } }
    public func knowsCategory(_ value: String) -> Bool { categories.isEmpty || categories.contains { $0.caseInsensitiveCompare(value) == .orderedSame } }
    public func knowsPriority(_ value: String) -> Bool { priorities.isEmpty || priorities.contains(value) }

    // MARK: Loading

    public static func load(path: String) throws -> TenantData {
        try parse(yaml: String(contentsOfFile: path, encoding: .utf8), file: path)
    }

    public static func parse(yaml: String, file: String) throws -> TenantData {
        let root = try TenantYAML.parse(yaml, file: file)
        guard let top = root.objectValue else { throw FieldProblem(field: file, "a tenant file is a mapping (assets:, users:, …)") }
        let known: Set<String> = ["assets", "functional_locations", "categories", "priorities", "users", "statuses"]
        if let bad = top.keys.sorted().first(where: { !known.contains($0) }) {
            throw FieldProblem(field: "\(file): \(bad)", "unknown key; expected one of \(known.sorted().joined(separator: ", "))")
        }
        func strings(_ key: String) throws -> [String] {
            guard let v = top[key], !v.isNull else { return [] }
            guard let a = v.arrayValue else { throw FieldProblem(field: "\(file): \(key)", "must be a list") }
            return try a.map { x in
                guard let s = x.stringOrNumber else { throw FieldProblem(field: "\(file): \(key)", "items must be plain values") }
                return s
            }
        }
        func entries(_ key: String) throws -> [Entry] {
            guard let v = top[key], !v.isNull else { return [] }
            guard let a = v.arrayValue else { throw FieldProblem(field: "\(file): \(key)", "must be a list") }
            return try a.enumerated().map { i, x in
                if let s = x.stringOrNumber { return Entry(id: s) }
                guard let o = x.objectValue, let id = o["id"]?.stringOrNumber, !id.isEmpty else {
                    throw FieldProblem(field: "\(file): \(key)[\(i)]", "needs an id")
                }
                let fields: Set<String> = ["id", "number", "name", "functional_location", "location"]
                if let bad = o.keys.sorted().first(where: { !fields.contains($0) }) {
                    throw FieldProblem(field: "\(file): \(key)[\(i)].\(bad)", "unknown key; expected \(fields.sorted().joined(separator: ", "))")
                }
                var number: Int?
                if let n = o["number"]?.stringOrNumber {
                    guard let v = Int(n) else { throw FieldProblem(field: "\(file): \(key)[\(i)].number", "must be a whole number") }
                    number = v
                }
                return Entry(id: id, number: number, name: o["name"]?.stringOrNumber, functionalLocation: o["functional_location"]?.stringOrNumber,
                             location: o["location"]?.stringOrNumber)
            }
        }
        return TenantData(assets: try entries("assets"), functionalLocations: try strings("functional_locations"), categories: try strings("categories"),
                          priorities: try strings("priorities"), users: try entries("users"), statuses: try strings("statuses"))
    }

    /// A tenant from the plant's asset register (`AssetRegister`, PRODUCT §5): its assets and their
    /// functional locations; the other tables stay unchecked.
    public static func from(register: AssetRegister) -> TenantData {
        let records = register.records.values.sorted { $0.assetId < $1.assetId }
        let assets = records.map { Entry(id: $0.assetId, name: $0.name, functionalLocation: $0.functionalLocation, location: $0.location) }
        return TenantData(assets: assets, functionalLocations: Array(Set(records.compactMap(\.functionalLocation))).sorted())
    }
}

/// A tenant file read with Yams (the YAML library the configuration uses), as plain values:
/// scalars stay strings, `~`/`null` is null, and errors name the file and line.
enum TenantYAML {
    static func parse(_ text: String, file: String) throws -> JSONValue {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch let e as YamlError {
            throw FieldProblem(field: file, "is not valid YAML: \(e)")
        }
        return try root.map { try value($0, file: file) } ?? .object([:])
    }

    static func value(_ node: Node, file: String) throws -> JSONValue {
        switch node {
        case .scalar(let s):
            return s.style == .plain && ["~", "null", ""].contains(s.string) ? .null : .string(s.string)
        case .sequence(let seq):
            return .array(try seq.map { try value($0, file: file) })
        case .mapping(let mapping):
            var out: [String: JSONValue] = [:]
            for (k, v) in mapping {
                let at = "\(file):\((k.mark?.line).map(String.init) ?? "?")"
                guard let key = k.string else { throw FieldProblem(field: at, "a key that is not text") }
                if out[key] != nil { throw FieldProblem(field: at, "'\(key)' appears twice") }
                out[key] = try value(v, file: file)
            }
            return .object(out)
        default:
            throw FieldProblem(field: "\(file):\((node.mark?.line).map(String.init) ?? "?")", "aliases are not used in tenant files")
        }
    }
}
