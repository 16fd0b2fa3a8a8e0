import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import MillwrightCore

/// Readers of the official contracts (OData V2 EDMX, OpenAPI 3) the emulators validate against.
///
/// The emulators never look for spec files on their own: `millwright emulate` validates against
/// the built-in tables in `SpecTables.swift`, which hold every property of the official files, so
/// an installed binary needs nothing beside it. A caller that has the files (the tests, from
/// `Tests/Fixtures/specs`) passes their folder, and the readers below load them; the tests check
/// that the built-in tables equal what these readers load.
public enum SpecFiles {
    /// `name` inside `dir`, when both exist.
    public static func file(_ name: String, in dir: URL?) -> URL? {
        guard let dir else { return nil }
        let u = dir.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }
}

// MARK: - EDMX (OData V2 $metadata)

public struct EDMXProperty: Sendable, Equatable {
    public var name: String
    public var type: String
    public var maxLength: Int?
    public var nullable: Bool
    public var creatable: Bool
    public var updatable: Bool
    public init(name: String, type: String, maxLength: Int? = nil, nullable: Bool = true, creatable: Bool = true, updatable: Bool = true) {
        self.name = name; self.type = type; self.maxLength = maxLength; self.nullable = nullable; self.creatable = creatable; self.updatable = updatable
    }
}

public struct EDMXEntityType: Sendable {
    public var name: String
    public var keys: [String] = []
    public var properties: [String: EDMXProperty] = [:]
    public var order: [String] = []
    public var navigation: Set<String> = []
    public var hasStream = false
}

public struct EDMXModel: Sendable {
    public var namespace = ""
    public var entityTypes: [String: EDMXEntityType] = [:]
    /// Entity set name → entity type name (without namespace).
    public var entitySets: [String: String] = [:]
    public var functionImports: Set<String> = []
    /// Where it came from: a file path, or "embedded".
    public var source = "embedded"

    public func type(ofSet set: String) -> EDMXEntityType? { entitySets[set].flatMap { entityTypes[$0] } }

    public static func load(_ url: URL) throws -> EDMXModel {
        var m = try parse(Data(contentsOf: url))
        m.source = url.path
        return m
    }

    public static func parse(_ data: Data) throws -> EDMXModel {
        let delegate = EDMXDelegate()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        guard parser.parse() else {
            throw FieldProblem(field: nil, "EDMX is not well-formed XML: \(parser.parserError.map { String(describing: $0) } ?? "unknown error")")
        }
        return delegate.model
    }

    /// A compact table `Set|Type|Prop:EdmType:MaxLength:flags,...` (flags: k key, n not nullable,
    /// c not creatable, u not updatable; white space and line breaks between properties ignored),
    /// the form of the built-in tables in `SpecTables.swift`.
    static func embedded(_ lines: [String]) -> EDMXModel {
        var m = EDMXModel()
        for line in lines {
            let parts = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard parts.count == 3 else { continue }
            var t = EDMXEntityType(name: parts[1])
            for piece in parts[2].split(separator: ",") {
                let spec = piece.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !spec.isEmpty else { continue }
                let f = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                let flags = f.count > 3 ? f[3] : ""
                let p = EDMXProperty(name: f[0], type: "Edm." + f[1], maxLength: Int(f[2]), nullable: !flags.contains("n"),
                                     creatable: !flags.contains("c"), updatable: !flags.contains("u"))
                t.properties[p.name] = p; t.order.append(p.name)
                if flags.contains("k") { t.keys.append(p.name) }
            }
            m.entityTypes[t.name] = t; m.entitySets[parts[0]] = t.name
        }
        return m
    }
}

final class EDMXDelegate: NSObject, XMLParserDelegate {
    var model = EDMXModel()
    private var current: EDMXEntityType?
    private var inKey = false

    private static func local(_ name: String) -> String { name.split(separator: ":").last.map(String.init) ?? name }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?, attributes a: [String: String] = [:]) {
        // Attributes arrive with their prefix (`sap:creatable`); match on the local part.
        var attr: [String: String] = [:]
        for (k, v) in a { attr[Self.local(k)] = v }
        switch Self.local(elementName) {
        case "Schema": if model.namespace.isEmpty { model.namespace = attr["Namespace"] ?? "" }
        case "EntityType":
            current = EDMXEntityType(name: attr["Name"] ?? "")
            current?.hasStream = attr["HasStream"] == "true"
        case "Key": inKey = true
        case "PropertyRef": if inKey, let n = attr["Name"] { current?.keys.append(n) }
        case "Property":
            guard current != nil, let n = attr["Name"], let t = attr["Type"] else { return }
            let p = EDMXProperty(name: n, type: t, maxLength: attr["MaxLength"].flatMap(Int.init), nullable: attr["Nullable"] != "false",
                                 creatable: attr["creatable"] != "false", updatable: attr["updatable"] != "false")
            current?.properties[n] = p
            current?.order.append(n)
        case "NavigationProperty": if let n = attr["Name"] { current?.navigation.insert(n) }
        case "EntitySet":
            if let n = attr["Name"], let t = attr["EntityType"] { model.entitySets[n] = Self.local(t.split(separator: ".").last.map(String.init) ?? t) }
        case "FunctionImport": if let n = attr["Name"] { model.functionImports.insert(n) }
        default: break
        }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        switch Self.local(elementName) {
        case "Key": inKey = false
        case "EntityType":
            if let c = current { model.entityTypes[c.name] = c }
            current = nil
        default: break
        }
    }
}

/// Validation of an OData V2 JSON payload against an entity type, in SAP Gateway's terms.
public enum ODataValidation {
    public struct Problem: Error, Sendable, Equatable {
        public var code: String
        public var message: String
        public var target: String
    }

    static let timePattern = try! NSRegularExpression(pattern: #"^PT(\d{1,2})H(\d{1,2})M(\d{1,2})S$"#)
    static let datePattern = try! NSRegularExpression(pattern: #"^/Date\(-?\d+([+-]\d{4})?\)/$"#)
    static let isoPattern = try! NSRegularExpression(pattern: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"#)

    static func matches(_ re: NSRegularExpression, _ s: String) -> Bool {
        re.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// Checks every property: known, creatable (or updatable), right JSON type for its Edm type,
    /// within MaxLength; and the required ones present on create.
    public static func validate(_ body: [String: JSONValue], against type: EDMXEntityType, creating: Bool, required: [String] = []) -> [Problem] {
        var problems: [Problem] = []
        for key in body.keys.sorted() {
            let value = body[key]!
            if key == "__metadata" { continue }
            guard let p = type.properties[key] else {
                if type.navigation.contains(key) { continue }
                problems.append(Problem(code: "/IWBEP/CM_MGW_RT/021", message: "Property '\(key)' is invalid", target: key))
                continue
            }
            if creating && !p.creatable || !creating && !p.updatable {
                problems.append(Problem(code: "/IWBEP/CM_MGW_RT/022", message: "Property '\(key)' is read-only and cannot be \(creating ? "set on create" : "changed")", target: key))
                continue
            }
            if value.isNull {
                if !p.nullable { problems.append(Problem(code: "/IWBEP/CM_MGW_RT/023", message: "Property '\(key)' must not be null", target: key)) }
                continue
            }
            if let msg = typeProblem(value, p) { problems.append(Problem(code: "/IWBEP/CM_MGW_RT/004", message: "Invalid value for property '\(key)' (\(p.type)): \(msg)", target: key)) }
        }
        if creating {
            for r in required where body[r] == nil || body[r]?.stringValue?.isEmpty == true {
                problems.append(Problem(code: "IWO_BAPI/102", message: "Enter a value for field '\(r)'", target: r))
            }
        }
        return problems
    }

    static func typeProblem(_ v: JSONValue, _ p: EDMXProperty) -> String? {
        switch p.type {
        case "Edm.String":
            guard let s = v.stringValue else { return "expected a string, got \(v.typeName)" }
            if let max = p.maxLength, s.count > max { return "'\(s.prefix(50))' is \(s.count) characters; the maximum is \(max)" }
        case "Edm.Boolean":
            guard v.boolValue != nil else { return "expected true or false, got \(v.typeName)" }
        case "Edm.DateTime":
            guard let s = v.stringValue, matches(datePattern, s) || matches(isoPattern, s) else { return "expected /Date(ms)/ or yyyy-mm-ddThh:mm:ss" }
        case "Edm.DateTimeOffset":
            guard let s = v.stringValue, matches(datePattern, s) || Timestamps.parseISO(s) != nil else { return "expected /Date(ms)/ or an ISO 8601 time with offset" }
        case "Edm.Time":
            guard let s = v.stringValue, matches(timePattern, s) else { return "expected a duration like PT14H30M00S" }
        case "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte":
            if let d = v.doubleValue { if d.rounded() != d { return "expected an integer" } }
            else if let s = v.stringValue, Int64(s) != nil {} else { return "expected an integer, got \(v.typeName)" }
        case "Edm.Decimal", "Edm.Double", "Edm.Single":
            if v.doubleValue == nil, !(v.stringValue.map { Double($0) != nil } ?? false) { return "expected a number, got \(v.typeName)" }
        case "Edm.Guid":
            guard let s = v.stringValue, UUID(uuidString: s) != nil else { return "expected a GUID" }
        default: break
        }
        return nil
    }
}

// MARK: - OpenAPI (MaintainX)

/// One JSON-schema property of an OpenAPI request body, reduced to what validation needs.
public struct OpenAPIProperty: Sendable, Equatable {
    /// JSON types allowed (`integer`, `number`, `string`, `boolean`, `array`, `object`); several for `oneOf`.
    public var types: Set<String>
    public var enumValues: [String]?
    public var nullable: Bool
    public init(types: Set<String>, enumValues: [String]? = nil, nullable: Bool = false) {
        self.types = types; self.enumValues = enumValues; self.nullable = nullable
    }
}

public struct OpenAPIBody: Sendable {
    public var properties: [String: OpenAPIProperty]
    public var required: [String]
    public var source = "embedded"
    /// The schema's `additionalProperties`; JSON Schema's default when it is absent is `true` (any other
    /// property is allowed), and MaintainX's `POST /workorders` body schema does not set it.
    public var additionalProperties = true

    /// The JSON request body schema of `method path` in an OpenAPI 3 document.
    public static func load(_ url: URL, path: String, method: String) throws -> OpenAPIBody {
        // Foundation's parser, then only the pieces needed as JSONValue: the whole document is
        // over a megabyte and decoding it into JSONValue is slow in debug builds.
        guard let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw FieldProblem(field: nil, "\(url.lastPathComponent) is not a JSON object")
        }
        func value(_ any: Any) -> JSONValue {
            switch any {
            case let d as [String: Any]: return .object(d.mapValues(value))
            case let a as [Any]: return .array(a.map(value))
            case let s as String: return .string(s)
            case let n as NSNumber:
                let t = String(cString: n.objCType)
                if t == "c" || t == "B" { return .bool(n.boolValue) }
                return .number(n.doubleValue)
            default: return .null
            }
        }
        let doc = JSONValue.object(["components": value(root["components"] ?? [:]),
                                    "paths": .object([path: value((root["paths"] as? [String: Any])?[path] ?? [:])])])
        guard let schema = doc["paths"]?[path]?[method.lowercased()]?["requestBody"]?["content"]?["application/json"]?["schema"] else {
            throw FieldProblem(field: nil, "\(url.lastPathComponent) has no JSON request body for \(method) \(path)")
        }
        let s = resolve(schema, doc)
        var props: [String: OpenAPIProperty] = [:]
        for (name, p) in s["properties"]?.objectValue ?? [:] { props[name] = property(resolve(p, doc), doc) }
        var body = OpenAPIBody(properties: props, required: s["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        body.source = url.path
        body.additionalProperties = s["additionalProperties"].map { $0.boolValue ?? true } ?? true
        return body
    }

    static func resolve(_ v: JSONValue, _ doc: JSONValue) -> JSONValue {
        guard let ref = v["$ref"]?.stringValue, ref.hasPrefix("#/") else { return v }
        var cur: JSONValue? = doc
        for part in ref.dropFirst(2).split(separator: "/") { cur = cur?[String(part)] }
        return cur ?? v
    }

    static func property(_ p: JSONValue, _ doc: JSONValue) -> OpenAPIProperty {
        var types = Set<String>()
        var nullable = p["nullable"]?.boolValue ?? false
        if let t = p["type"]?.stringValue { types.insert(t) }
        for alt in (p["oneOf"]?.arrayValue ?? []) + (p["anyOf"]?.arrayValue ?? []) {
            let a = resolve(alt, doc)
            if let t = a["type"]?.stringValue { types.insert(t) }
            if a["nullable"]?.boolValue == true { nullable = true }
        }
        if types.isEmpty { types = ["string", "number", "integer", "boolean", "array", "object"] }
        return OpenAPIProperty(types: types, enumValues: p["enum"]?.arrayValue?.compactMap(\.stringValue), nullable: nullable)
    }

    /// Problems as MaintainX reports them: `(fieldPath, error)`.
    public func validate(_ body: [String: JSONValue]) -> [(String, String)] {
        var out: [(String, String)] = []
        for r in required where body[r] == nil { out.append((r, "\"\(r)\" is required")) }
        for key in body.keys.sorted() {
            let v = body[key]!
            guard let p = properties[key] else {
                if !additionalProperties { out.append((key, "\"\(key)\" is not allowed")) }
                continue
            }
            if v.isNull { if !p.nullable { out.append((key, "\"\(key)\" must not be null")) }; continue }
            let t: String
            switch v {
            case .number(let n): t = n.rounded() == n ? "integer" : "number"
            case .string: t = "string"
            case .bool: t = "boolean"
            case .array: t = "array"
            case .object: t = "object"
            case .null: t = "null"
            }
            let ok = p.types.contains(t) || (t == "integer" && p.types.contains("number"))
            if !ok { out.append((key, "\"\(key)\" must be of type \(p.types.sorted().joined(separator: " or "))")); continue }
            if let e = p.enumValues, let s = v.stringValue, !e.contains(s) { out.append((key, "\"\(key)\" must be one of [\(e.joined(separator: ", "))]")) }
        }
        return out
    }
}
