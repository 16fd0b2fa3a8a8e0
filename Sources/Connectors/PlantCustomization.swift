import Foundation
import MillwrightCore

/// How a system types a field the plant sets through `fields:`; a field without a kind is a string.
public enum FieldKind: String, Sendable, Equatable {
    case integer, number, boolean
}

/// Whom a work order goes to in the CMMS: a user, or a group (`team:<id>` in the `users` map).
public enum CMMSAssignee: Sendable, Equatable {
    case user(String)
    case team(String)
}

/// The plant's own wording for one CMMS — `title:`, `fields:` and the `users` map of a `cmms:`
/// entry — applied by each connector to its create payload.
///
/// - The title template replaces Millwright's title and is cut to the system's title length.
/// - `fields` go into the payload under the system's own names; `a.b` sets `b` inside object `a`
///   (`extraFields.Defect Class`, `CLASSID.CLASSCODE`). A value that renders empty is left out.
///   Where the system types the field as a number or boolean and the value reads as one, it is
///   sent typed; anything else goes as a string and the CMMS judges it as it would any client's.
/// - `users` maps our technician ids and fallback queue names to CMMS users (`T-114=ortiz`) or
///   groups (`mechanics=team:7`). Without an entry the field stays out and the assignment is
///   only in the text.
public struct PlantCustomization: Sendable {
    struct Field: Sendable {
        var name: String
        var path: [String]
        var template: WorkOrderTemplate
    }

    let titleTemplate: WorkOrderTemplate?
    let fields: [Field]
    let users: [String: String]
    let kinds: @Sendable (String) -> FieldKind?

    /// - Parameters:
    ///   - reserved: fields the connector fills from the work order; naming one in `fields:` is refused
    ///     here, so the mistake shows at startup and not as a dead letter per work order.
    ///   - kinds: the system's numeric and boolean fields.
    ///   - caseInsensitive: the system ignores the case of field names (Maximo); they are compared and sent in lower case.
    init(_ s: CMMSSettings, reserved: Set<String>, kinds: @escaping @Sendable (String) -> FieldKind? = { _ in nil },
         caseInsensitive: Bool = false) throws {
        titleTemplate = s.titleTemplate.map(WorkOrderTemplate.init)
        var fields: [Field] = []
        for (raw, text) in s.fields.sorted(by: { $0.key < $1.key }) {
            let name = caseInsensitive ? raw.lowercased() : raw
            let clash = reserved.first { $0 == name || $0.hasPrefix(name + ".") || name.hasPrefix($0 + ".") }
            if let clash {
                throw ConnectorError.misconfigured("cmms \(s.name): fields.\(raw) would overwrite \(clash), which Millwright fills from the work order; "
                    + "remove it (the title is set with title:, the rest in the system's own block)")
            }
            fields.append(Field(name: name, path: name.split(separator: ".", maxSplits: 1).map(String.init), template: WorkOrderTemplate(text)))
        }
        self.fields = fields
        self.users = s.users
        self.kinds = kinds
    }

    /// The rendered template, or Millwright's title; cut to `max` characters when given.
    public func title(_ wo: WorkOrderDraft, max: Int?) -> String {
        let rendered = titleTemplate?.render(wo) ?? ""
        let t = rendered.isEmpty ? wo.title : rendered
        guard let max, t.count > max else { return t }
        return String(t.prefix(max - 1)) + "…"
    }

    /// Sets the extra fields in `payload`; they are applied last, over optional values from the system block.
    public func apply(_ wo: WorkOrderDraft, to payload: inout [String: JSONValue]) {
        for f in fields {
            let text = f.template.render(wo)
            guard !text.isEmpty else { continue }
            let value = Self.typed(text, kinds(f.name))
            if f.path.count == 2 {
                var inner = payload[f.path[0]]?.objectValue ?? [:]
                inner[f.path[1]] = value
                payload[f.path[0]] = .object(inner)
            } else {
                payload[f.name] = value
            }
        }
    }

    /// The rendered fields by name, untyped: for receivers without a schema (webhook).
    public func renderedFields(_ wo: WorkOrderDraft) -> [String: String] {
        var out: [String: String] = [:]
        for f in fields {
            let text = f.template.render(wo)
            if !text.isEmpty { out[f.name] = text }
        }
        return out
    }

    public static func typed(_ text: String, _ kind: FieldKind?) -> JSONValue {
        switch kind {
        case .integer: if let i = Int(text) { return .number(Double(i)) }
        case .number: if let d = Double(text), d.isFinite { return .number(d) }
        case .boolean: if let b = Bool(text.lowercased()) { return .bool(b) }
        case nil: break
        }
        return .string(text)
    }

    /// For systems that take only numeric user and group ids: a name in the map is refused at startup
    /// rather than by the CMMS on every work order.
    func requireNumericUsers(_ s: CMMSSettings, block: String) throws {
        for (who, target) in users.sorted(by: { $0.key < $1.key }) {
            let id = target.lowercased().hasPrefix("team:") ? String(target.dropFirst(5)).trimmingCharacters(in: .whitespaces) : target
            if Int(id) == nil {
                throw ConnectorError.misconfigured("cmms \(s.name): \(block).users maps \(who) to '\(target)', but this system takes numeric user ids (team:<id> for a group)")
            }
        }
    }

    /// The CMMS user or group for the work order's technician, when the `users` map has one.
    public func assignee(_ wo: WorkOrderDraft) -> CMMSAssignee? {
        guard let who = wo.assignee, let target = users[who], !target.isEmpty else { return nil }
        if target.lowercased().hasPrefix("team:") { return .team(String(target.dropFirst(5)).trimmingCharacters(in: .whitespaces)) }
        return .user(target)
    }
}
