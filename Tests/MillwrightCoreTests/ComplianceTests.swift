import Foundation
import MillwrightCore
import Testing

@Suite struct ComplianceTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func passwordPolicyNamesEveryRuleBroken() {
        #expect(AccountRules.passwordProblems("Correct-Horse-42", user: "jdoe").isEmpty)
        #expect(AccountRules.passwordProblems("short1A!", user: "jdoe") == ["at least 12 characters"])
        #expect(AccountRules.passwordProblems("alllowercaseletters", user: "x") == ["three of: lower case, upper case, digits, symbols"])
        #expect(AccountRules.passwordProblems("Jdoe-Password-1", user: "jdoe") == ["must not contain the user name"])
        // bcrypt would silently ignore everything past 72 bytes.
        #expect(AccountRules.passwordProblems(String(repeating: "Aa1-", count: 19), user: "x") == ["at most 72 bytes"])
        #expect(AccountRules.nameProblem("jdoe") == nil)
        #expect(AccountRules.nameProblem("j doe") != nil)
        #expect(AccountRules.fullNameProblem("Jane\u{7}Doe") != nil)
    }

    @Test func thirdFailureWithinFifteenMinutesLocks() {
        let p = LockoutPolicy()
        #expect(!p.locks(failures: [t0, t0 + 60], now: t0 + 60))
        #expect(p.locks(failures: [t0, t0 + 60, t0 + 120], now: t0 + 120))
        // Spread over more than the window: only two count.
        #expect(!p.locks(failures: [t0, t0 + 600, t0 + 901], now: t0 + 901))
    }

    func chain(_ specs: [(String, String, [String: JSONValue])]) -> [AuditRecord] {
        var out: [AuditRecord] = []
        var prev = AuditRecord.genesis
        for (i, s) in specs.enumerated() {
            let r = AuditRecord(seq: Int64(i + 1), at: t0, kind: s.0, subject: s.1, data: s.2, prevHash: prev)
            out.append(r)
            prev = r.hash
        }
        return out
    }

    func signature(of kind: String, _ subject: String, _ data: [String: JSONValue]) -> [String: JSONValue] {
        SignatureManifest(user: "jdoe", fullName: "Jane Doe", meaning: .reviewed, action: kind, signedAt: t0,
                          timeZone: TimeZone(identifier: "Europe/Berlin")!,
                          signs: SignatureManifest.digest(at: t0, kind: kind, subject: subject, data: data)).auditData
    }

    @Test func aSignatureVerifiesWithTheRecordItSigns() {
        let verdict: [String: JSONValue] = ["verdict": .string("false_positive")]
        let records = chain([("feedback", "INC-1", verdict), ("signature", "INC-1", signature(of: "feedback", "INC-1", verdict))])
        #expect(AuditChain.verify(records) == nil)
        let m = SignatureManifest(auditData: records[1].data, at: t0)
        #expect(m?.printed.hasPrefix("Jane Doe (jdoe), reviewed, ") == true)
        // 1_790_000_000 is 2026-09-21 14:13:20 UTC, summer time in Berlin.
        #expect(m?.printed == "Jane Doe (jdoe), reviewed, 2026-09-21 14:13:20 UTC / 2026-09-21 16:13:20 +02:00 Europe/Berlin")
    }

    /// A chain rewritten consistently (plain SHA-256, no key) is caught by the binding alone.
    @Test func aSignatureMovedToAnotherRecordBreaksTheChain() {
        let a: [String: JSONValue] = ["verdict": .string("false_positive")], b: [String: JSONValue] = ["verdict": .string("confirmed")]
        let moved = chain([("feedback", "INC-1", a), ("feedback", "INC-2", b), ("signature", "INC-2", signature(of: "feedback", "INC-1", a))])
        #expect(AuditChain.verify(moved)?.reason.contains("does not match the content") == true)
        let otherSubject = chain([("feedback", "INC-1", a), ("signature", "INC-9", signature(of: "feedback", "INC-1", a))])
        #expect(AuditChain.verify(otherSubject)?.reason.contains("moved") == true)
        let edited = chain([("feedback", "INC-1", b), ("signature", "INC-1", signature(of: "feedback", "INC-1", a))])
        #expect(AuditChain.verify(edited)?.seq == 2)
    }

    @Test func clockStepsBeyondTheLimitAreReported() {
        var d = ClockStepDetector(maxStep: 2)
        #expect(d.observe(wall: t0, monotonic: 100) == nil)
        #expect(d.observe(wall: t0 + 1.5, monotonic: 101) == nil)
        #expect(d.observe(wall: t0 + 12, monotonic: 102) == 9.5)
        #expect(d.observe(wall: t0 + 5, monotonic: 103) == -8)
    }
}

@Suite struct ConfigRevisionTests {
    @Test func secretsAreRedactedAndVariableNamesKept() {
        let text = """
        auth: { bearer: { token: abc123, token_env: MW_TOKEN } }
        password: "hunter2"
        signing_secret_env: MW_EVIDENCE_SECRET
        url: postgres://mw:s3cret@127.0.0.1:5432/mw
        api_key: plain-key # why
        site: { name: plant-1 }
        """
        let r = ConfigRevision.redact(text)
        for secret in ["abc123", "hunter2", "s3cret", "plain-key"] { #expect(!r.contains(secret), "\(secret) in \(r)") }
        for kept in ["token_env: MW_TOKEN", "signing_secret_env: MW_EVIDENCE_SECRET", "postgres://mw:<redacted>@127.0.0.1", "name: plant-1", "# why"] {
            #expect(r.contains(kept), "\(kept) missing from \(r)")
        }
    }

    @Test func theDiffListsRemovedAndAddedLinesInOrder() {
        let old = "a: 1\nb: 2\nc: 3", new = "a: 1\nb: 20\nc: 3\nd: 4"
        #expect(ConfigRevision.diff(from: old, to: new) == ["- b: 2", "+ b: 20", "+ d: 4"])
        #expect(ConfigRevision.diff(from: old, to: old).isEmpty)
        let many = (0..<300).map { "k\($0): v" }.joined(separator: "\n")
        let d = ConfigRevision.diff(from: "", to: many)
        #expect(d.count == ConfigRevision.maxDiffLines + 1)
        #expect(d.last == "(101 more changed line(s))")
    }
}
