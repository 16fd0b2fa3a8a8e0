import Crypto
import Foundation
import MillwrightCore

/// `webhook`: the work order as generic JSON, POSTed to `base_url`, for CMMSs without a
/// connector and for glue (Node-RED, n8n, a ticket queue).
///
/// Receivers verify `X-Millwright-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
/// with `X-Millwright-Timestamp` (Unix seconds; reject old ones to stop replays) and must
/// treat `Idempotency-Key` (our reference) as the key of the work order: a webhook cannot be
/// queried, so a retry after a lost response is sent again with the same key.
/// Config: `webhook: { secret_env: MW_WEBHOOK_SECRET }`. The cmms entry's `title:` replaces
/// `work_order.title` (not cut: a receiver has no fixed length) and `fields:` arrive rendered, as
/// strings, in `fields` beside the work order.
public struct WebhookOptions: CMMSOptions {
    /// The key every request is signed with (`secret_env`).
    public var secret: String

    public static let keys = ["secret_env"]

    public init(secret: String) { self.secret = secret }

    public init(block: ConfigTree) throws(ConfigError) {
        guard let s = try block.secret("secret") else {
            throw block.error("needs secret_env naming the environment variable that holds the signing secret")
        }
        secret = s
    }
}

public struct WebhookConnector: CMMSConnector {
    public let settings: CMMSSettings
    let http: HTTPTransport
    let secret: Data
    let custom: PlantCustomization
    public var name: String { settings.name }
    public var kind: String { settings.kind }

    init(settings: CMMSSettings, options: WebhookOptions, http: HTTPTransport) throws {
        // Empty only when the config was loaded without secrets, which builds no connectors.
        guard !options.secret.isEmpty else {
            throw ConnectorError.misconfigured("cmms \(settings.name): webhook.secret_env names an empty environment variable")
        }
        self.settings = settings; self.http = http; self.secret = Data(options.secret.utf8)
        custom = try PlantCustomization(settings, reserved: [])
    }

    public static func signature(body: Data, timestamp: String, secret: Data) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
        mac.update(data: Data(timestamp.utf8))
        mac.update(data: Data(".".utf8))
        mac.update(data: body)
        return "v1=" + Hex.encode(mac.finalize())
    }

    public func create(_ wo: WorkOrderDraft) async -> DeliveryState.Outcome {
        do {
            var titled = wo
            titled.title = custom.title(wo, max: nil)
            let fields = custom.renderedFields(wo)
            let body = try JSONEncoder.sandbox.encode(WebhookEnvelope(event: "work_order.created", workOrder: titled, fields: fields.isEmpty ? nil : fields))
            let ts = String(Int(Date().timeIntervalSince1970))
            let headers = [("Content-Type", "application/json"), ("Idempotency-Key", wo.reference), ("X-Millwright-Timestamp", ts),
                           ("X-Millwright-Signature", Self.signature(body: body, timestamp: ts, secret: secret))] + HTTPTransport.authHeaders(settings.auth)
            let r = try await http.send(.POST, settings.baseURL, headers: headers, body: body)
            if let failure = HTTPTransport.classify(r, describe: { $0.text }) { return failure }
            return .created(cmmsId: r.json?["id"]?.stringOrNumber ?? wo.reference)
        } catch {
            return HTTPTransport.transportFailure(error)
        }
    }

    /// A webhook cannot be asked; resending with the same Idempotency-Key is the contract.
    public func lookup(reference: String) async -> DeliveryState.Outcome { .lookupNotFound }
    public func status(cmmsId: String) async throws -> CMMSStatus? { nil }
    public func addNote(cmmsId: String, text: String) async -> Bool { false }

    public func checkConnection() async -> [ConnectionCheck] {
        do {
            let r = try await http.send(.HEAD, settings.baseURL, headers: HTTPTransport.authHeaders(settings.auth))
            let ok = r.status < 500 && r.status != 401 && r.status != 403
            return [ConnectionCheck(step: "reach", ok: ok, detail: "HTTP \(r.status) from \(settings.baseURL)", fix: ok ? nil : "check base_url and the receiver's auth"),
                    ConnectionCheck(step: "attachment upload", ok: true, detail: "image sent as a link in the JSON body")]
        } catch {
            return [ConnectionCheck(step: "reach", ok: false, detail: HTTPTransport.describe(error), fix: "check base_url \(settings.baseURL)")]
        }
    }
}

public struct WebhookEnvelope: Codable, Sendable {
    public var event: String
    public var workOrder: WorkOrderDraft
    /// The plant's `fields:`, rendered; absent when none are configured.
    public var fields: [String: String]?
    enum CodingKeys: String, CodingKey { case event, workOrder = "work_order", fields }
}
