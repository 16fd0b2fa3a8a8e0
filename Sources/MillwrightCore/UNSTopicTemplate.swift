import Foundation

/// Where a camera's floor topics live in the plant's Unified Namespace: an ISA-95 path written
/// as a template, `"{enterprise}/{site}/{area}/{line}/{asset}/vision/{camera}"`, under which
/// the leaves `detections`, `incidents`, `work-orders` and `state` are published.
///
/// Each placeholder fills part of one topic level: its value is sanitised (no `/`, `+`, `#`,
/// control characters; at most `maxValueBytes`), and a value that comes out empty cannot fill
/// it, so a rendered topic never has a wildcard or an empty level, and its length is bounded
/// by the template's.
public struct UNSTopicTemplate: Sendable, Equatable {
    public static let placeholders = ["enterprise", "site", "area", "line", "location", "asset", "camera"]
    /// A template longer than this is a mistake; with seven placeholders of at most
    /// `maxValueBytes` a topic stays far below MQTT's 65,535-byte limit.
    public static let maxTemplateBytes = 512
    /// As long as a valid id: a camera id is never cut, so Millwright's own tree is unchanged.
    public static let maxValueBytes = DetectionValidator.maxIdBytes

    public enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    public let parts: [Part]

    /// The placeholder names the template uses, in order, without repeats.
    public var placeholdersUsed: [String] {
        var seen: [String] = []
        for case .placeholder(let p) in parts where !seen.contains(p) { seen.append(p) }
        return seen
    }

    init(parts: [Part]) { self.parts = parts }

    /// Millwright's own tree, `<prefix>/<site>/<camera>`: the default without a template.
    public static func legacy(prefix: String) -> UNSTopicTemplate {
        UNSTopicTemplate(parts: [.literal(prefix + "/"), .placeholder("site"), .literal("/"), .placeholder("camera")])
    }

    /// Reads a template, or says what is wrong with it.
    public init(parsing text: String) throws(FieldProblem) {
        guard !text.isEmpty, text.utf8.count <= Self.maxTemplateBytes else {
            throw FieldProblem(field: nil, "must be 1 to \(Self.maxTemplateBytes) bytes")
        }
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { throw FieldProblem(field: nil, "has a '{' without its '}'") }
            if open > rest.startIndex { parts.append(.literal(String(rest[..<open]))) }
            let name = String(rest[rest.index(after: open)..<close])
            guard Self.placeholders.contains(name) else {
                throw FieldProblem(field: nil, "unknown placeholder {\(name)}; use \(Self.placeholders.map { "{\($0)}" }.joined(separator: " "))")
            }
            parts.append(.placeholder(name))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        for case .literal(let l) in parts {
            if l.contains("}") { throw FieldProblem(field: nil, "has a '}' without its '{'") }
            if l.contains(where: { $0 == "+" || $0 == "#" || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } }) {
                throw FieldProblem(field: nil, "contains an MQTT wildcard (+ or #) or a control character")
            }
        }
        // Placeholders are never empty, so an empty level can only come from the literal text.
        if text.hasPrefix("/") || text.hasSuffix("/") || text.contains("//") {
            throw FieldProblem(field: nil, "has an empty topic level (a leading, trailing or doubled '/')")
        }
        if text.hasPrefix("$") { throw FieldProblem(field: nil, "must not start with '$' (brokers reserve those topics)") }
        let template = UNSTopicTemplate(parts: parts)
        // Without the camera two cameras would share one retained `state`.
        guard template.placeholdersUsed.contains("camera") else { throw FieldProblem(field: nil, "must contain {camera}") }
        self = template
    }

    /// The placeholder value as it may stand in a topic level, or nil when nothing is left.
    public static func sanitise(_ value: String) -> String? {
        var out = ""
        for ch in value.trimmingCharacters(in: .whitespacesAndNewlines) {
            let bad = ch == "/" || ch == "+" || ch == "#" || ch.unicodeScalars.contains { $0.properties.generalCategory == .control }
            let next = bad ? "_" : String(ch)
            guard out.utf8.count + next.utf8.count <= maxValueBytes else { break }
            out += next
        }
        return out.isEmpty ? nil : out
    }

    /// The placeholders `values` cannot fill (absent, or empty once sanitised), in order.
    public func unfilled(_ values: [String: String]) -> [String] {
        placeholdersUsed.filter { values[$0].flatMap(Self.sanitise) == nil }
    }

    /// The base topic, or nil when a placeholder cannot be filled.
    public func render(_ values: [String: String]) -> String? {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let l): out += l
            case .placeholder(let p):
                guard let v = values[p].flatMap(Self.sanitise) else { return nil }
                out += v
            }
        }
        return out
    }

    /// The values a configured camera offers the template: its own keys first, then the
    /// register's row for its asset.
    public static func values(camera: CameraMapping, site: String, enterprise: String?, register: AssetRegister?) -> [String: String] {
        let row = register?.records[camera.asset]
        var v = ["site": site, "camera": camera.camera, "asset": camera.asset]
        v["enterprise"] = enterprise
        v["area"] = camera.area ?? row?.area
        v["line"] = camera.productionLine
        v["location"] = row?.location ?? row?.functionalLocation
        return v
    }
}
