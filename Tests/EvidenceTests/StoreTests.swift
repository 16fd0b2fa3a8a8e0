import Evidence
import Foundation
import Testing

@Suite("content-addressed evidence store and signed links")
struct StoreTests {
    func tempStore() throws -> EvidenceStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mw-evidence-\(UUID().uuidString)")
        return try EvidenceStore(directory: dir)
    }

    @Test func putAndGet() throws {
        let store = try tempStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let data = try JPEG.encode(Fixture.card640(), quality: 80)
        let h = try store.put(data)
        #expect(h == EvidenceStore.hash(data))
        #expect(h.count == 64)
        #expect(FileManager.default.fileExists(atPath: store.directory.appendingPathComponent("\(h).jpg").path))
        #expect(try store.get(h) == data)
        #expect(try store.put(data) == h)    // idempotent
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path)
        #expect(names == ["\(h).jpg"], "no temp files left behind: \(names)")
        // Known vector.
        #expect(EvidenceStore.hash(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func rejectsBadHashes() throws {
        let store = try tempStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        for bad in ["../../etc/passwd", "", "ABC", String(repeating: "g", count: 64), String(repeating: "A", count: 64)] {
            #expect(throws: EvidenceError.invalidHash(bad)) { try store.get(bad) }
        }
        #expect(throws: EvidenceError.notFound(hash: String(repeating: "0", count: 64))) { try store.get(String(repeating: "0", count: 64)) }
    }

    @Test func detectsTampering() throws {
        let store = try tempStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let h = try store.put(Data("evidence".utf8))
        try Data("tampered".utf8).write(to: store.url(for: h))
        #expect(throws: EvidenceError.self) { try store.get(h) }
    }

    @Test("retention deletes old files except those kept")
    func retention() throws {
        let store = try tempStore()
        defer { try? FileManager.default.removeItem(at: store.directory) }
        let old1 = try store.put(Data("one".utf8)), old2 = try store.put(Data("two".utf8)), fresh = try store.put(Data("three".utf8))
        let past = Date().addingTimeInterval(-40 * 86_400)
        for h in [old1, old2] { try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: store.url(for: h).path) }
        let stale = store.directory.appendingPathComponent(".tmp-crashed")
        try Data("partial".utf8).write(to: stale)
        try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: stale.path)
        let foreign = store.directory.appendingPathComponent("README.txt")
        try Data("not ours".utf8).write(to: foreign)
        try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: foreign.path)

        let removed = try store.cleanup(keep: [old2], maxAge: 30 * 86_400)
        #expect(removed == [old1])
        #expect(!store.contains(old1))
        #expect(store.contains(old2))       // kept even though old
        #expect(store.contains(fresh))      // young
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: foreign.path))
    }

    @Test("signed links: valid, expired, tampered, wrong secret")
    func signedLinks() {
        let secret = Data("s3cret-key-material".utf8)
        let h = EvidenceStore.hash(Data("img".utf8))
        let now = Date(timeIntervalSince1970: 1_795_227_240)
        let token = EvidenceLink.sign(hash: h, expires: now.addingTimeInterval(3600), secret: secret)
        #expect(token.hasPrefix("exp=1795230840&sig="))
        #expect(EvidenceLink.verify(hash: h, token: token, secret: secret, now: now))
        #expect(EvidenceLink.check(hash: h, token: token, secret: secret, now: now.addingTimeInterval(3601)) == .expired)
        #expect(EvidenceLink.check(hash: h, token: token, secret: Data("other".utf8), now: now) == .badSignature)
        let other = EvidenceStore.hash(Data("other".utf8))
        #expect(EvidenceLink.check(hash: other, token: token, secret: secret, now: now) == .badSignature)
        let extended = token.replacingOccurrences(of: "exp=1795230840", with: "exp=1895230840")
        #expect(EvidenceLink.check(hash: h, token: extended, secret: secret, now: now) == .badSignature)
        #expect(EvidenceLink.check(hash: h, token: "garbage", secret: secret, now: now) == .malformed)
        #expect(!EvidenceLink.verify(hash: "../x", token: token, secret: secret, now: now))
    }
}
