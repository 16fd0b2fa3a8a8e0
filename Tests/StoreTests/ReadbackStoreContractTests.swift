import Foundation
import MillwrightCore
import MillwrightTesting
import Store
import Testing

/// The read-back of a closed work order, on every backend: due once the CMMS completed it and
/// the incident closed, stored once with its audit record (in the incident's timeline), retried
/// after a failed read and given up after `maxReadbackAttempts`, and listed for the export.
@Suite(.sharedPostgres) struct ReadbackStoreContractTests {
    let now = Date()
    let contract = StoreContractTests()

    /// One delivered work order as `WO-1`; returns (work order, incident).
    func delivered(_ store: any GatewayStore, _ id: String = "d0") async throws -> (String, String) {
        let outcome = try #require(try await store.ingest([contract.det(id)], rules: contract.rules(), now: now).first)
        let wo = try #require(outcome.workOrderId), incident = try #require(outcome.incidentId)
        let claim = try #require(try await store.claimDue(cmms: "sb", limit: 1, suspects: false, rendersEvidence: false, now: now.addingTimeInterval(1)).first)
        _ = try await store.recordDelivery(workOrderId: wo, fence: claim.fence, action: .create, outcome: .created(cmmsId: "WO-1"), duration: 0.1,
                                           policy: DispatchPolicy(), jitter: 0, now: now.addingTimeInterval(2))
        return (wo, incident)
    }

    @Test(arguments: StoreBackend.all)
    func aCompletedWorkOrderIsReadBackOnceIntoTheTimeline(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let (wo, incident) = try await delivered(store)
        #expect(try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now).isEmpty, "open work is not read back")
        _ = try await store.applyCMMSStatus(workOrderId: wo, status: .completed, now: now.addingTimeInterval(3))
        let due = try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now.addingTimeInterval(4))
        let reference = try #require(try await store.workOrder(id: wo)?.reference)
        #expect(due.map { [$0.workOrderId, $0.incidentId, $0.cmmsId, $0.reference] } == [[wo, incident, "WO-1", reference]])

        let sha = String(repeating: "ab", count: 32)
        let record = Store.ReadbackRecord(outcome: .read, closureCode: "DONE (Belt replaced)", notes: [ReadbackNote(text: "Replaced <belt>", author: "user 1", at: now)],
                                          photoSHA256: sha, photoName: "after.jpg", refused: ["report.pdf: application/pdf is not a JPEG or PNG photo"])
        try await store.recordReadback(workOrderId: wo, record, now: now.addingTimeInterval(5))
        #expect(try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now.addingTimeInterval(6)).isEmpty, "read back once")
        let stored = try #require(try await store.readback(incidentId: incident))
        #expect(stored.closureCode == record.closureCode)
        #expect(stored.notes.map(\.text) == ["Replaced <belt>"])
        #expect(stored.notes.first?.author == "user 1")
        #expect(stored.photoSHA256 == sha)
        #expect(stored.refused == record.refused)
        let audit = try #require(try await store.incident(id: incident)?.timeline?.first { $0.kind == "cmms.readback" })
        #expect(audit.data["closure_code"]?.stringValue == "DONE (Belt replaced)")
        #expect(audit.data["photo_sha256"]?.stringValue == sha)
        let photos = try await store.completionPhotos(since: now.addingTimeInterval(-60), limit: 10)
        #expect(photos.map(\.photoSHA256) == [sha])
        #expect(photos.first?.incidentId == incident)
        #expect(photos.first?.defectClass == "crack")
        #expect(try await store.completionPhotos(since: now.addingTimeInterval(60), limit: 10).isEmpty)
    }

    @Test(arguments: StoreBackend.all)
    func aFailedReadIsRetriedThenGivenUpWithAReason(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let (wo, incident) = try await delivered(store)
        _ = try await store.applyCMMSStatus(workOrderId: wo, status: .cancelled, now: now.addingTimeInterval(3))
        for attempt in 1...Store.maxReadbackAttempts {
            #expect(try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now).count == 1, "still due before attempt \(attempt)")
            #expect(try await store.readback(incidentId: incident) == nil, "nothing to show while reads are retried")
            try await store.recordReadbackFailure(workOrderId: wo, error: "HTTP 503", now: now.addingTimeInterval(Double(attempt)))
        }
        #expect(try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now).isEmpty, "given up")
        let stored = try #require(try await store.readback(incidentId: incident))
        #expect(stored.outcome == .failed)
        #expect(stored.refused == ["HTTP 503"])
        let audits = try await store.incident(id: incident)?.timeline?.filter { $0.kind == "cmms.readback" } ?? []
        #expect(audits.count == 1, "one record when it is given up")
        #expect(audits.first?.data["outcome"]?.stringValue == "failed")
    }

    @Test(arguments: StoreBackend.all)
    func anUnsupportedSystemIsSaidOnce(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let (wo, incident) = try await delivered(store)
        _ = try await store.applyCMMSStatus(workOrderId: wo, status: .falsePositive, now: now.addingTimeInterval(3))
        #expect(try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now).count == 1, "a false positive closed in the CMMS is read back too")
        try await store.recordReadback(workOrderId: wo, Store.ReadbackRecord(outcome: .unsupported, refused: ["the fiix connector reads nothing back"]), now: now)
        #expect(try await store.pendingReadbacks(cmms: "sb", limit: 10, now: now).isEmpty)
        #expect(try await store.readback(incidentId: incident)?.outcome == .unsupported)
        #expect(try await store.completionPhotos(since: now.addingTimeInterval(-60), limit: 10).isEmpty)
    }
}
