import Foundation
import MillwrightCore

/// The `sandbox` CMMS: Millwright's own emulator (`millwright emulate sandbox`), with the
/// features every real connector relies on — create, lookup by external reference, status,
/// notes — and none of a vendor's quirks. Used by the demo and the end-to-end tests.
///
/// API: `POST /api/work-orders`, `GET /api/work-orders?reference=`, `GET /api/work-orders/{id}`,
/// `POST /api/work-orders/{id}/notes`, `GET /api/whoami`; Bearer token auth.
/// The title is at most 40 characters (the cmms entry's `title:` is cut to it); `fields:` may set
/// the optional `work_type` and `cost_center`; `assignee` is the technician (through `users` when
/// mapped, else our own id: the sandbox shares Millwright's ids).
public struct SandboxConnector: CMMSConnector {
    public let settings: CMMSSettings
    let http: HTTPTransport
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }
    public static let titleMax = 40

    init(settings: CMMSSettings, options: NoCMMSOptions, http: HTTPTransport) throws {
        self.settings = settings; self.http = http
        let own = SandboxWorkOrderRequest.CodingKeys.allCases.map(\.rawValue).filter { !SandboxWorkOrderRequest.optionalFields.contains($0) }
        custom = try PlantCustomization(settings, reserved: Set(own))
    }

    /// The create body; public so the tests can see what the sandbox receives.
    public func payload(_ wo: WorkOrderDraft) throws -> Data {
        var request = SandboxWorkOrderRequest(wo)
        request.title = custom.title(wo, max: Self.titleMax)
        switch custom.assignee(wo) {
        case .user(let u)?: request.assignee = u
        case .team(let t)?: request.assignee = "team:\(t)"
        case nil: request.assignee = wo.assignee
        }
        guard case .object(var body) = try JSONValue.parse(JSONEncoder.sandbox.encode(request)) else { return Data() }
        custom.apply(wo, to: &body)
        // Plain keys: the sandbox encoder's snake_casing would rename the plant's field names.
        return try JSONEncoder().encode(JSONValue.object(body))
    }

    var headers: [(String, String)] {
        [("Content-Type", "application/json"), ("Accept", "application/json")] + HTTPTransport.authHeaders(settings.auth)
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            let r = try await http.send(.POST, settings.baseURL + "/api/work-orders", headers: headers, body: try payload(wo))
            if let failure = HTTPTransport.classify(r, describe: Self.problem) { return failure }
            guard let id = r.json?["id"]?.stringValue else { return .unknown(error: "created, but the response had no id: \(r.text)") }
            return .created(cmmsId: id)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    public func lookup(reference: String) async -> DeliveryState.Outcome {
        let q = reference.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? reference
        do {
            let r = try await http.send(.GET, settings.baseURL + "/api/work-orders?reference=\(q)", headers: headers)
            guard r.status == 200 else { return LookupProof.unproven("HTTP \(r.status): \(Self.problem(r))", retryAfter: HTTPTransport.retryAfter(r.headers)) }
            // Filtered on the server: an empty `items` proves absence; a body without it proves nothing.
            guard let items = r.json?["items"]?.arrayValue else { return LookupProof.inconclusive("the answer has no items list: \(r.text)") }
            guard let first = items.first else { return .lookupNotFound }
            guard let id = first["id"]?.stringValue else { return LookupProof.inconclusive("a work order carries \(reference) but has no id") }
            return .lookupFound(cmmsId: id)
        } catch {
            return LookupProof.unproven("no answer: \(HTTPTransport.describe(error))")
        }
    }

    public func status(cmmsId: String) async throws -> CMMSStatus? {
        let r = try await http.send(.GET, settings.baseURL + "/api/work-orders/\(cmmsId)", headers: headers)
        guard r.status == 200, let s = r.json?["status"]?.stringValue else {
            throw ConnectorError.misconfigured("status of \(cmmsId): HTTP \(r.status) \(Self.problem(r))")
        }
        return CMMSStatus(rawValue: s) ?? .open
    }

    public func addNote(cmmsId: String, text: String) async -> Bool {
        let body = try? JSONSerialization.data(withJSONObject: ["text": text])
        guard let r = try? await http.send(.POST, settings.baseURL + "/api/work-orders/\(cmmsId)/notes", headers: headers, body: body) else { return false }
        return (200..<300).contains(r.status)
    }

    public func attach(cmmsId: String, filename: String, jpeg: Data) async -> Bool {
        let name = filename.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? filename
        let headers = [("Content-Type", "image/jpeg")] + HTTPTransport.authHeaders(settings.auth)
        guard let r = try? await http.send(.PUT, settings.baseURL + "/api/work-orders/\(cmmsId)/attachments/\(name)", headers: headers, body: jpeg) else { return false }
        return (200..<300).contains(r.status)
    }

    /// The sandbox takes up to 4 MB, like many CMMS defaults.
    public var attachmentLimitBytes: Int { 4_000_000 }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await http.send(.GET, settings.baseURL + "/api/whoami", headers: headers)
            if r.status == 401 {
                return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP 401: \(Self.problem(r))", fix: "check the token in cmms[\(name)].auth")]
            }
            guard r.status == 200 else { return [ConnectionCheck(step: "authenticate", ok: false, detail: "HTTP \(r.status)", fix: "is \(settings.baseURL) the sandbox emulator?")] }
            let perms = r.json?["permissions"]?.arrayValue?.compactMap(\.stringValue) ?? []
            return [
                ConnectionCheck(step: "authenticate", ok: true, detail: "signed in as \(r.json?["user"]?.stringValue ?? "?")"),
                ConnectionCheck(step: "create permission", ok: perms.contains("create"), detail: perms.joined(separator: ", "),
                                fix: perms.contains("create") ? nil : "grant the integration user create rights"),
                ConnectionCheck(step: "attachment upload", ok: perms.contains("attach"), detail: perms.contains("attach") ? "supported" : "not permitted",
                                fix: perms.contains("attach") ? nil : "grant attachment rights"),
            ]
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL) and the network path")]
        }
    }

    static func problem(_ r: HTTPTransport.Response) -> String {
        r.json?["detail"]?.stringValue ?? r.json?["title"]?.stringValue ?? r.text
    }
}

/// The sandbox CMMS's work-order body; the emulator decodes the same type.
public struct SandboxWorkOrderRequest: Codable, Sendable, Equatable {
    public var reference: String
    public var title: String
    public var description: String
    public var asset: String
    public var location: String?
    public var priority: String
    public var defectClass: String
    public var severity: Int
    public var camera: String
    public var detectedAt: Date
    public var evidenceURL: String?
    public var assignee: String?
    public var workType: String?
    public var costCenter: String?

    /// Fields the plant's `fields:` may set (an `assignee` there replaces the technician).
    public static let optionalFields: Set<String> = ["work_type", "cost_center", "assignee"]

    public init(_ w: WorkOrderDraft) {
        reference = w.reference; title = w.title; description = w.description; asset = w.asset
        location = w.location ?? w.functionalLocation; priority = w.priority.rawValue; defectClass = w.defectClass
        severity = w.severity; camera = w.camera; detectedAt = w.detectedAt; evidenceURL = w.evidenceURL
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case reference, title, description, asset, location, priority, severity, camera, assignee
        case defectClass = "defect_class", detectedAt = "detected_at", evidenceURL = "evidence_url"
        case workType = "work_type", costCenter = "cost_center"
    }
}

extension JSONEncoder {
    public static var sandbox: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.dateEncodingStrategy = .custom { d, enc in var c = enc.singleValueContainer(); try c.encode(Timestamps.format(d)) }
        return e
    }
}

extension JSONDecoder {
    public static var sandbox: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { dec in
            let s = try dec.singleValueContainer().decode(String.self)
            guard let date = Timestamps.parseISO(s) else { throw DecodingError.dataCorrupted(.init(codingPath: dec.codingPath, debugDescription: "expected ISO 8601 time, got \(s)")) }
            return date
        }
        return d
    }
}
