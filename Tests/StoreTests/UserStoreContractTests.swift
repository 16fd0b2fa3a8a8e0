import Foundation
import MillwrightCore
import MillwrightTesting
import Store
import Testing

/// Named users, sessions, lockout and signed decisions, on every backend.
@Suite(.sharedPostgres) struct UserStoreContractTests {
    let now = Date()

    func user(_ name: String = "jdoe") -> UserRecord {
        UserRecord(name: name, fullName: "Jane Doe", role: .operator, passwordHash: "$2b$12$notarealhash", createdAt: now, passwordSetAt: now)
    }

    @Test(arguments: StoreBackend.all)
    func usersAreAddedOnceAndEveryChangeIsAudited(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.addUser(user(), by: "cli:root", now: now)
        await #expect(throws: UserStoreError.exists("jdoe")) { try await store.addUser(user(), by: "cli:root", now: now) }
        try await store.setUserDisabled("jdoe", disabled: true, by: "cli:root", now: now)
        #expect(try await store.user(named: "jdoe")?.isActive == false)
        await #expect(throws: UserStoreError.unknown("nobody")) { try await store.setUserDisabled("nobody", disabled: true, by: "x", now: now) }
        let kinds = try await store.auditRecords(AuditQuery(subject: "user:jdoe")).map(\.kind)
        #expect(kinds == ["user.added", "user.disabled"])
        // The hash never reaches the trail.
        #expect(try await store.auditRecords(AuditQuery(subject: "user:jdoe")).allSatisfy { !"\($0.data)".contains("notarealhash") })
    }

    @Test(arguments: StoreBackend.all)
    func theThirdFailureLocksAndEndsSessionsUntilAPasswordReset(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.addUser(user(), by: "cli:root", now: now)
        try await store.createSession(tokenSHA256: "s1", user: "jdoe", now: now)
        let policy = LockoutPolicy()
        #expect(try await store.recordAuthenticationFailure("jdoe", context: "login", policy: policy, now: now + 1) == false)
        #expect(try await store.recordAuthenticationFailure("jdoe", context: "login", policy: policy, now: now + 2) == false)
        #expect(try await store.recordAuthenticationFailure("jdoe", context: "signature: feedback", policy: policy, now: now + 3) == true)
        // Locked once, not again on the fourth.
        #expect(try await store.recordAuthenticationFailure("jdoe", context: "login", policy: policy, now: now + 4) == false)
        #expect(try await store.user(named: "jdoe")?.lockedAt != nil)
        #expect(try await store.resumeSession(tokenSHA256: "s1", idle: 900, now: now + 5) == nil)
        #expect(try await store.auditRecords(AuditQuery(kind: "security.user_locked")).map(\.subject) == ["user:jdoe"])
        try await store.resetPassword("jdoe", hash: "$2b$12$another", by: "cli:root", now: now + 6)
        #expect(try await store.user(named: "jdoe")?.isActive == true)
        // An unknown name is recorded, and locks nothing.
        #expect(try await store.recordAuthenticationFailure("ghost", context: "login", policy: policy, now: now) == false)
        #expect(try await store.auditRecords(AuditQuery(subject: "user:ghost")).map(\.kind) == ["security.authentication_failed"])
    }

    @Test(arguments: StoreBackend.all)
    func aSessionEndsWhenIdleOrLoggedOut(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await store.addUser(user(), by: "cli:root", now: now)
        try await store.createSession(tokenSHA256: "live", user: "jdoe", now: now)
        #expect(try await store.resumeSession(tokenSHA256: "live", idle: 60, now: now + 50)?.name == "jdoe")
        // Used at +50, so still live at +100.
        #expect(try await store.resumeSession(tokenSHA256: "live", idle: 60, now: now + 100)?.name == "jdoe")
        #expect(try await store.resumeSession(tokenSHA256: "live", idle: 60, now: now + 200) == nil)
        try await store.createSession(tokenSHA256: "other", user: "jdoe", now: now)
        #expect(try await store.endSession(tokenSHA256: "other", now: now + 1))
        #expect(try await store.resumeSession(tokenSHA256: "other", idle: 60, now: now + 2) == nil)
        let reasons = try await store.auditRecords(AuditQuery(kind: "user.logout")).compactMap { $0.data["reason"]?.stringValue }
        #expect(reasons == ["idle", "logout"])
    }

    @Test(arguments: StoreBackend.all)
    func aSignedVerdictIsBoundIntoTheChainAndShownOnTheIncident(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        var s = Settings()
        s.cmms = [CMMSSettings(name: "sb", kind: "sandbox", baseURL: "http://127.0.0.1:1")]
        s.assets.cameras = [CameraMapping(camera: "CAM-0", asset: "A0", cmms: "sb")]
        s.defects["crack"] = DefectRule()
        let rules = PipelineRules(settings: s, mapper: AssetMapper(cameras: s.assets.cameras, register: nil), planning: nil)
        let out = try await store.ingest([Detection(detectionId: "d1", cameraId: "CAM-0", timestamp: now, defectClass: "crack", confidence: 0.9)],
                                         rules: rules, now: now)
        let incident = try #require(out.first?.incidentId)
        let intent = SignatureIntent(user: "jdoe", fullName: "Jane Doe", meaning: .reviewed, timeZone: TimeZone(identifier: "Europe/Berlin")!)
        _ = try await store.feedback(incidentId: incident, falsePositive: true, by: "jdoe", note: "glare", signature: intent, now: now + 10)
        let shown = try #require(try await store.incident(id: incident)?.signatures)
        #expect(shown.map(\.fullName) == ["Jane Doe"])
        #expect(shown.first?.action == "feedback")
        #expect(shown.first?.meaning == .reviewed)
        #expect(try await store.signatures(subject: incident) == shown)
        #expect(try await store.verifyAudit(key: nil, checkpoints: []).firstBreak == nil)
    }
}

@Suite(.sharedPostgres) struct ConfigRevisionStoreTests {
    @Test(arguments: StoreBackend.all)
    func aChangedConfigurationIsRecordedWithItsRedactedDiff(_ backend: StoreBackend) async throws {
        let store = try #require(try await backend.make() as? Store)
        #expect(try await store.recordConfiguration(ConfigRevision(text: "shadow: true\ntoken: tok-secret-1\n"), file: "m.yaml"))
        #expect(try await store.recordConfiguration(ConfigRevision(text: "shadow: true\ntoken: tok-secret-1\n"), file: "m.yaml") == false)
        #expect(try await store.recordConfiguration(ConfigRevision(text: "shadow: false\ntoken: tok-secret-2\n"), file: "m.yaml"))
        let records = try await store.auditRecords(AuditQuery(kind: "config.changed"))
        #expect(records.count == 2)
        #expect(records.first?.data["first"] == .bool(true))
        let diff = records.last?.data["diff"]?.arrayValue?.compactMap(\.stringValue)
        #expect(diff == ["- shadow: true", "+ shadow: false"])
        #expect(!"\(records)".contains("tok-secret"))
    }
}
