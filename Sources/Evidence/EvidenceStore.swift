import Crypto
import Foundation
import MillwrightCore

/// Content-addressed evidence storage: each image is stored once, named by the SHA-256
/// hex digest of its bytes plus `.jpg`, written atomically (temp file in the same
/// directory, then rename), so readers never see a partial file and a crash leaves at
/// most a stale temp file (swept by `cleanup`).
public struct EvidenceStore: Sendable {
    public let directory: URL
    public let fileExtension: String

    public init(directory: URL, fileExtension: String = "jpg") throws {
        self.directory = directory
        self.fileExtension = fileExtension
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw EvidenceError.io("cannot create \(directory.path): \(error)")
        }
    }

    /// Lowercase hex SHA-256 of `data`.
    public static func hash(_ data: Data) -> String {
        Hex.encode(SHA256.hash(data: data))
    }

    /// True for a 64-character lowercase hex string (the only names `get`/`url` accept,
    /// so a hash can never be used for path traversal).
    public static func isValidHash(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    public func url(for hash: String) throws -> URL {
        guard Self.isValidHash(hash) else { throw EvidenceError.invalidHash(hash) }
        return directory.appendingPathComponent("\(hash).\(fileExtension)")
    }

    /// Stores the bytes (idempotent) and returns their hash.
    @discardableResult
    public func put(_ data: Data) throws -> String { try store(data).hash }

    /// Stores `data`; `created` says whether this call wrote it (false: it was already there,
    /// and may be referenced by earlier records).
    public func store(_ data: Data) throws -> (hash: String, created: Bool) {
        let h = Self.hash(data)
        let final = try url(for: h)
        if FileManager.default.fileExists(atPath: final.path) {
            // Touch so retention by age counts from the latest use.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: final.path)
            return (h, false)
        }
        let tmp = directory.appendingPathComponent(".tmp-\(UUID().uuidString)")
        do {
            try data.write(to: tmp, options: [])
            // Flush to disk before the rename makes the name visible.
            let fh = try FileHandle(forWritingTo: tmp)
            try fh.synchronize()
            try fh.close()
            if rename(tmp.path, final.path) != 0 {
                let err = errno
                throw EvidenceError.io("rename failed: \(String(cString: strerror(err)))")
            }
        } catch let e as EvidenceError {
            try? FileManager.default.removeItem(at: tmp)
            throw e
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw EvidenceError.io("write failed: \(error)")
        }
        return (h, true)
    }

    /// Removes one stored item (a frame written for a submission that was then not committed).
    public func remove(_ hash: String) {
        guard let u = try? url(for: hash) else { return }
        try? FileManager.default.removeItem(at: u)
    }

    /// Reads stored bytes by hash, verifying they still match it.
    public func get(_ hash: String) throws -> Data {
        let u = try url(for: hash)
        guard let data = FileManager.default.contents(atPath: u.path) else { throw EvidenceError.notFound(hash: hash) }
        guard Self.hash(data) == hash else { throw EvidenceError.io("stored file \(hash) does not match its hash") }
        return data
    }

    public func contains(_ hash: String) -> Bool {
        guard let u = try? url(for: hash) else { return false }
        return FileManager.default.fileExists(atPath: u.path)
    }

    /// Retention: deletes evidence files older than `maxAge` (by modification time) whose
    /// hash is not in `keep`, and stale temp files older than `maxAge`. Files in `keep` are
    /// never deleted. Returns the hashes removed.
    @discardableResult
    public func cleanup(keep: Set<String>, maxAge: TimeInterval, now: Date = Date()) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw EvidenceError.io("cannot list \(directory.path): \(error)")
        }
        var removed: [String] = []
        let suffix = ".\(fileExtension)"
        for name in names.sorted() {
            let path = directory.appendingPathComponent(name).path
            let isTemp = name.hasPrefix(".tmp-")
            let hash = name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : ""
            guard isTemp || Self.isValidHash(hash) else { continue }      // not ours: leave it
            if !isTemp && keep.contains(hash) { continue }
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: path),
                  let mtime = attrs[.modificationDate] as? Date else { continue }
            guard now.timeIntervalSince(mtime) > maxAge else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil, !isTemp { removed.append(hash) }
        }
        return removed
    }
}

/// Signed, expiring evidence links: `GET /v1/evidence/{hash}?exp=…&sig=…`.
///
/// `sig` is HMAC-SHA256 over `millwright-evidence-v1\n<hash>\n<exp>` (exp in Unix
/// seconds), base64url without padding. Verification is constant-time.
public enum EvidenceLink {
    /// Returns the query string `exp=<unix seconds>&sig=<base64url>`.
    public static func sign(hash: String, expires: Date, secret: Data) -> String {
        let exp = Int64(expires.timeIntervalSince1970.rounded(.down))
        let mac = HMAC<SHA256>.authenticationCode(for: message(hash, exp), using: SymmetricKey(data: secret))
        return "exp=\(exp)&sig=\(base64url(Data(mac)))"
    }

    public enum Verdict: Sendable, Equatable { case valid, expired, badSignature, malformed }

    /// Checks a query string produced by `sign` for this hash.
    public static func check(hash: String, token: String, secret: Data, now: Date = Date()) -> Verdict {
        var exp: Int64?
        var sig: Data?
        for part in token.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            if kv[0] == "exp" { exp = Int64(kv[1]) }
            if kv[0] == "sig" { sig = fromBase64url(kv[1]) }
        }
        guard let exp, let sig, EvidenceStore.isValidHash(hash) else { return .malformed }
        let ok = HMAC<SHA256>.isValidAuthenticationCode(sig, authenticating: message(hash, exp), using: SymmetricKey(data: secret))
        guard ok else { return .badSignature }
        return Int64(now.timeIntervalSince1970) < exp ? .valid : .expired
    }

    /// True only for a correctly signed, unexpired link.
    public static func verify(hash: String, token: String, secret: Data, now: Date = Date()) -> Bool {
        check(hash: hash, token: token, secret: secret, now: now) == .valid
    }

    static func message(_ hash: String, _ exp: Int64) -> Data { Data("millwright-evidence-v1\n\(hash)\n\(exp)".utf8) }

    static func base64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func fromBase64url(_ s: String) -> Data? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }
}
