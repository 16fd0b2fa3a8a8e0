import Foundation
import MillwrightCore

/// One asset, functional location or user the configuration names in a CMMS: what a work order
/// would carry. `check-connection` asks the CMMS whether each exists (`CMMSConnector.checkReferences`).
public struct MappedReference: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case asset, location, user }
    public var kind: Kind
    /// Our value as the configuration has it: the asset id of the camera mapping, the register's
    /// functional location (or location), the CMMS user a `users` entry maps a technician to.
    public var id: String
    /// Where the configuration names it: `assets.csv:14`, `millwright.yaml:22 (camera CAM-07)`,
    /// `millwright.yaml cmms[maximo].users T-114`.
    public var origin: String
    public init(kind: Kind, id: String, origin: String) { self.kind = kind; self.id = id; self.origin = origin }
}

/// What the CMMS answered about one reference.
public enum ReferenceStatus: Sendable, Equatable {
    /// The system returned the record.
    case exists
    /// The system said, in its own not-found answer, that there is no such record (its words).
    case missing(String)
    /// No answer that decides it (an error, a timeout, an answer in an unexpected shape): why.
    case unknown(String)
    /// This system cannot be asked about this kind of reference, or does not receive it: why.
    case notCheckable(String)

    public var label: String {
        switch self {
        case .exists: "exists"
        case .missing: "missing"
        case .unknown: "unknown"
        case .notCheckable: "not checkable"
        }
    }

    public var detail: String? {
        switch self {
        case .exists: nil
        case .missing(let d), .unknown(let d), .notCheckable(let d): d
        }
    }
}

/// One reference and the CMMS's answer.
public struct ReferenceCheck: Sendable, Equatable {
    public var reference: MappedReference
    /// The id asked of the CMMS when the connector translates ours (`asset_map`), else nil.
    public var asked: String?
    public var status: ReferenceStatus
    public init(_ reference: MappedReference, asked: String? = nil, _ status: ReferenceStatus) {
        self.reference = reference; self.asked = asked; self.status = status
    }
}

/// Shared rules of the existence check; each system's calls live in its connector's file.
public enum ReferenceChecks {
    /// At most this many references are asked of one system per check, so a large register cannot
    /// turn `check-connection` into thousands of calls; the rest are reported `unknown`.
    public static let maxReferences = 500
    /// Ids per filtered call where the system takes a list (`oslc.where … in […]`, `$filter … or …`).
    public static let batchSize = 40

    /// Everything the connector has no read call for: `notCheckable` with the system's name.
    public static func notCheckable(_ refs: [MappedReference], _ why: String) -> [ReferenceCheck] {
        refs.map { ReferenceCheck($0, .notCheckable(why)) }
    }

    /// Splits off what is past `maxReferences`, answered `unknown`.
    public static func bounded(_ refs: [MappedReference]) -> (ask: [MappedReference], skipped: [ReferenceCheck]) {
        let ask = Array(refs.prefix(maxReferences))
        let skipped = refs.dropFirst(maxReferences).map {
            ReferenceCheck($0, .unknown("not asked: more than \(maxReferences) references for one system; check the rest in the CMMS"))
        }
        return (ask, skipped)
    }

    /// A read by key: 200 → exists; 404 carrying the system's own error body (JSON, or the shape
    /// `vendorBody` recognises) → missing; anything else → unknown. A 404 without the system's body
    /// is usually a wrong `base_url` or path (a proxy's page), which says nothing about the record.
    public static func byKey(_ r: HTTPTransport.Response, describe: (HTTPTransport.Response) -> String,
                             vendorBody: (HTTPTransport.Response) -> Bool = { $0.json != nil }) -> ReferenceStatus {
        switch r.status {
        case 200: return .exists
        case 404 where vendorBody(r): return .missing(bounded(describe(r)))
        case 404: return .unknown("HTTP 404 without the system's error body: check base_url")
        default: return .unknown("HTTP \(r.status): \(bounded(describe(r)))")
        }
    }

    /// A transport failure (timeout, refused connection): never a "missing".
    public static func failed(_ error: Error) -> ReferenceStatus { .unknown("no answer: \(HTTPTransport.describe(error))") }

    /// Cuts a CMMS's text to what a report line can carry.
    public static func bounded(_ s: String, max: Int = 200) -> String { s.count > max ? String(s.prefix(max - 1)) + "…" : s }

    /// Splits an id list into batches of `batchSize`.
    public static func batches<T>(_ items: [T], size: Int = batchSize) -> [[T]] {
        stride(from: 0, to: items.count, by: size).map { Array(items[$0..<min($0 + size, items.count)]) }
    }

    /// Asks one key read per distinct id of a kind (several references may name the same id) and
    /// gives each reference its answer. `id` is the system's id for the reference (nil: the system
    /// would not receive it, `unmapped` says why).
    public static func perId(_ refs: [MappedReference], id: (MappedReference) -> String?, unmapped: String = "",
                             read: (MappedReference.Kind, String) async -> ReferenceStatus) async -> [ReferenceCheck] {
        var answers: [String: ReferenceStatus] = [:]
        var out: [ReferenceCheck] = []
        for r in refs {
            guard let key = id(r) else { out.append(ReferenceCheck(r, .notCheckable(unmapped))); continue }
            let slot = r.kind.rawValue + "\u{0}" + key
            if answers[slot] == nil { answers[slot] = await read(r.kind, key) }
            out.append(ReferenceCheck(r, asked: key == r.id ? nil : key, answers[slot] ?? .unknown("not asked")))
        }
        return out
    }

    /// Answers references from the ids a filtered list returned: an id in `found` exists, one not in it
    /// is missing. Only for a list read whole (every batch fits one page, which the caller checks).
    public static func fromList(_ refs: [MappedReference], asked: (MappedReference) -> String, found: Set<String>,
                                notFound: String, caseInsensitive: Bool = false) -> [ReferenceCheck] {
        let norm: (String) -> String = { caseInsensitive ? $0.uppercased() : $0 }
        let have = Set(found.map(norm))
        return refs.map { r in
            let key = asked(r)
            return ReferenceCheck(r, asked: key == r.id ? nil : key, have.contains(norm(key)) ? .exists : .missing(notFound))
        }
    }
}

/// Collects the references a configuration makes to one CMMS.
public enum MappedReferences {
    /// - Cameras routed to `cmms` (their `cmms:`, or none and `cmms` is the first entry — the one
    ///   `IncidentDecision` uses then): each camera's asset and zone assets. Origin: the register row when
    ///   the register lists the asset, else the camera's line in the configuration.
    /// - For those assets, the register's `functional_location` (else `location`), as `location`.
    /// - Users: the values of the entry's `users` map (a `team:<id>` is a group, not a user, and left out).
    public static func collect(settings: Settings, cmms: CMMSSettings, register: AssetRegister?, registerFile: String?,
                               configFile: String) -> [MappedReference] {
        let isFirst = settings.cmms.first?.name == cmms.name
        var out: [MappedReference] = []
        var seen = Set<String>()
        func add(_ kind: MappedReference.Kind, _ id: String, _ origin: String) {
            guard !id.isEmpty, seen.insert("\(kind.rawValue)\u{0}\(id)").inserted else { return }
            out.append(MappedReference(kind: kind, id: id, origin: origin))
        }
        let regName = registerFile.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "register"
        for cam in settings.assets.cameras where cam.cmms == cmms.name || (cam.cmms == nil && isFirst) {
            let camAt = "\(configFile)" + (cam.line.map { ":\($0)" } ?? "") + " (camera \(cam.camera))"
            for asset in [cam.asset] + cam.zones.keys.sorted().compactMap({ cam.zones[$0] }) {
                let row = register?.records[asset]
                add(.asset, asset, row.map { "\(regName):\($0.line)" } ?? camAt)
                if let row, let place = row.functionalLocation ?? row.location { add(.location, place, "\(regName):\(row.line)") }
            }
        }
        for (technician, target) in cmms.users.sorted(by: { $0.key < $1.key }) where !target.lowercased().hasPrefix("team:") {
            add(.user, target, "\(configFile) cmms[\(cmms.name)].users \(technician)")
        }
        return out
    }
}
