import Foundation
@testable import Gateway
import MillwrightCore
@testable import Server
@testable import Store
import Testing

/// The hand-written 202 body says what the API's JSONEncoder said for it.
@Suite struct IngestResponseTests {
    /// The 202 body as it was encoded before it was written by hand.
    struct Encoded: Encodable {
        struct Item: Encodable {
            var id: String
            var status: String
            var reason: String
            var incidentId: String?
            var duplicate: Bool
        }
        var accepted: [String]
        var rejected: [Gateway.Rejection]
        var results: [Item]
        var format: String?
    }

    @Test(arguments: [nil, "frigate"])
    func theBodyMatchesTheEncoderField(by format: String?) throws {
        let accepted = [
            IngestOutcome(id: "d-1", status: .confirmed, reason: "confirmed: new incident", incidentId: "i-1", workOrderId: "w-1", duplicate: false, cameraId: "C"),
            IngestOutcome(id: "d\"2/é", status: .orphaned, reason: "no asset\nmapped", incidentId: nil, workOrderId: nil, duplicate: true, cameraId: "C"),
        ]
        let rejected = [Gateway.Rejection(index: 2, field: "confidence", problem: "must be 0–1"), Gateway.Rejection(index: 3, field: nil, problem: "not an object")]
        let report = Gateway.IngestReport(accepted: accepted, rejected: rejected, format: format)
        let reference = Encoded(accepted: accepted.map(\.id), rejected: rejected,
                                results: accepted.map { .init(id: $0.id, status: $0.status.rawValue, reason: $0.reason, incidentId: $0.incidentId, duplicate: $0.duplicate) },
                                format: format)
        let ours = try JSONValue.parse(Data(IngestResponse(report).body.utf8))
        #expect(ours == (try JSONValue.parse(apiEncoder.encode(reference))))
    }
}
