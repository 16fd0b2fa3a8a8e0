import Accounts
import Foundation
import HummingbirdOTP
import MillwrightCore
import Store
import Testing

/// Logins, second factors, sessions and signatures over a real (SQLite) store.
@Suite struct AccountsTests {
    func accounts(part11: Bool = true) throws -> (Accounts, Store, Locked) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-accounts-\(UUID().uuidString)").path
        let store = try Store(path: dir + "/db.sqlite")
        var settings = ComplianceSettings()
        settings.part11 = part11
        let locked = Locked()
        return (Accounts(store: store, settings: settings, timeZone: .gmt) { await locked.add($0) }, store, locked)
    }

    actor Locked {
        var names: [String] = []
        func add(_ n: String) { names.append(n) }
    }

    func addUser(_ store: Store, _ name: String, role: UserRole = .operator, password: String, totp: String? = nil) async throws {
        let hash = try await Accounts.hashPassword(password)
        try await store.addUser(UserRecord(name: name, fullName: "Full \(name)", role: role, passwordHash: hash, totpSecret: totp,
                                           createdAt: Date(), passwordSetAt: Date()), by: "test", now: Date())
    }

    @Test func aSecondFactorIsRequiredWhenTheUserHasOne() async throws {
        let (accounts, store, _) = try accounts()
        let (secret, url) = Accounts.newTOTP(user: "jdoe", issuer: "Millwright")
        #expect(url.hasPrefix("otpauth://totp/jdoe?secret="))
        try await addUser(store, "jdoe", password: "Correct-Horse-42", totp: secret)
        await #expect(throws: AccountsError.badCredentials) { _ = try await accounts.login(user: "jdoe", password: "Correct-Horse-42", totp: nil) }
        let now = Date()
        let code = String(format: "%06d", TOTP(secret: secret).compute(date: now))
        let session = try await accounts.login(user: "jdoe", password: "Correct-Horse-42", totp: code, now: now)
        #expect(session.token.hasPrefix(Accounts.tokenPrefix))
        #expect(try await accounts.resume(token: session.token)?.name == "jdoe")
        // A code from ten minutes ago is no second factor.
        let stale = String(format: "%06d", TOTP(secret: secret).compute(date: now.addingTimeInterval(-600)))
        if stale != code {
            await #expect(throws: AccountsError.badCredentials) { _ = try await accounts.login(user: "jdoe", password: "Correct-Horse-42", totp: stale, now: now) }
        }
    }

    @Test func thirdWrongPasswordLocksAndTellsTheContacts() async throws {
        let (accounts, store, locked) = try accounts()
        try await addUser(store, "mallory", password: "Battery-Staple-7")
        for _ in 0..<3 {
            await #expect(throws: AccountsError.badCredentials) { _ = try await accounts.login(user: "mallory", password: "nope", totp: nil) }
        }
        await #expect(throws: AccountsError.inactive(locked: true)) { _ = try await accounts.login(user: "mallory", password: "Battery-Staple-7", totp: nil) }
        #expect(await locked.names == ["mallory"])
        // An unknown name fails the same way (no hint that it does not exist) and locks nothing.
        await #expect(throws: AccountsError.badCredentials) { _ = try await accounts.login(user: "nobody", password: "x", totp: nil) }
    }

    @Test func signaturesAreCheckedAtTheMomentOfSigning() async throws {
        let (accounts, store, _) = try accounts()
        try await addUser(store, "jdoe", password: "Correct-Horse-42")
        try await addUser(store, "vic", role: .viewer, password: "Viewer-Only-2026")
        let operatorMay: (UserRole) -> Bool = { $0 == .operator || $0 == .admin }
        await #expect(throws: AccountsError.signatureRequired(action: "feedback")) {
            _ = try await accounts.signature(for: "feedback", nil, sessionUser: nil, allowed: operatorMay)
        }
        let good = SignatureRequest(user: "jdoe", password: "Correct-Horse-42", meaning: "approved")
        let intent = try #require(try await accounts.signature(for: "feedback", good, sessionUser: "jdoe", allowed: operatorMay))
        #expect(intent.fullName == "Full jdoe" && intent.meaning == .approved)
        await #expect(throws: AccountsError.signerMismatch(session: "someone", signer: "jdoe")) {
            _ = try await accounts.signature(for: "feedback", good, sessionUser: "someone", allowed: operatorMay)
        }
        await #expect(throws: AccountsError.signerNotAuthorized(signer: "vic", role: "viewer", action: "feedback")) {
            _ = try await accounts.signature(for: "feedback", SignatureRequest(user: "vic", password: "Viewer-Only-2026", meaning: "reviewed"),
                                             sessionUser: nil, allowed: operatorMay)
        }
        await #expect(throws: AccountsError.self) {
            _ = try await accounts.signature(for: "feedback", SignatureRequest(user: "jdoe", password: "Correct-Horse-42", meaning: "because"),
                                             sessionUser: nil, allowed: operatorMay)
        }
        // Without Part 11 a request may still carry a signature, and none is required.
        let (relaxed, _, _) = try self.accounts(part11: false)
        #expect(try await relaxed.signature(for: "feedback", nil, sessionUser: nil, allowed: operatorMay) == nil)
    }
}
