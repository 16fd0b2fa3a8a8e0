import Crypto
import Foundation

/// HTTP Digest access authentication (RFC 7616, compatible with RFC 2617), as values: reading a
/// `WWW-Authenticate: Digest …` challenge and answering it. Cameras protect their snapshot URIs
/// this way. `qop=auth` and no qop are supported, with MD5 or SHA-256 (and their `-sess` forms).
public struct HTTPDigestChallenge: Sendable, Equatable {
    public var realm: String
    public var nonce: String
    public var opaque: String?
    public var algorithm: String
    /// Whether the server offered `qop=auth` (else the RFC 2069 form without qop).
    public var qopAuth: Bool

    /// Longest challenge read: a real one is a few hundred bytes.
    static let maxHeaderBytes = 4096

    /// The Digest challenge in a `WWW-Authenticate` value, or nil when it is not one this
    /// client can answer.
    public static func parse(_ header: String) -> HTTPDigestChallenge? {
        guard header.utf8.count <= maxHeaderBytes else { return nil }
        let trimmed = header.drop { $0 == " " }
        guard trimmed.lowercased().hasPrefix("digest ") else { return nil }
        let params = parameters(String(trimmed.dropFirst(7)))
        guard let realm = params["realm"], let nonce = params["nonce"] else { return nil }
        let algorithm = (params["algorithm"] ?? "MD5").uppercased()
        guard ["MD5", "MD5-SESS", "SHA-256", "SHA-256-SESS"].contains(algorithm) else { return nil }
        let qops = (params["qop"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        // A server that offers only auth-int (a hash of the body) is not supported.
        if params["qop"] != nil && !qops.contains("auth") { return nil }
        return HTTPDigestChallenge(realm: realm, nonce: nonce, opaque: params["opaque"], algorithm: algorithm, qopAuth: qops.contains("auth"))
    }

    /// `name=value` and `name="quoted \" value"` pairs separated by commas; names lower-cased.
    static func parameters(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        var i = s.startIndex
        func skip(_ set: Set<Character>) { while i < s.endIndex, set.contains(s[i]) { i = s.index(after: i) } }
        while i < s.endIndex {
            skip([" ", ","])
            let nameStart = i
            while i < s.endIndex, s[i] != "=", s[i] != "," { i = s.index(after: i) }
            let name = s[nameStart..<i].trimmingCharacters(in: .whitespaces).lowercased()
            guard i < s.endIndex, s[i] == "=" else { continue }
            i = s.index(after: i)
            skip([" "])
            var value = ""
            if i < s.endIndex, s[i] == "\"" {
                i = s.index(after: i)
                while i < s.endIndex, s[i] != "\"" {
                    if s[i] == "\\", s.index(after: i) < s.endIndex { i = s.index(after: i) }
                    value.append(s[i])
                    i = s.index(after: i)
                }
                if i < s.endIndex { i = s.index(after: i) }
            } else {
                let start = i
                while i < s.endIndex, s[i] != "," { i = s.index(after: i) }
                value = s[start..<i].trimmingCharacters(in: .whitespaces)
            }
            if !name.isEmpty, out[name] == nil { out[name] = value }
        }
        return out
    }

    func hash(_ s: String) -> String {
        let bytes = Array(s.utf8)
        let digest: [UInt8] = algorithm.hasPrefix("SHA-256") ? Array(SHA256.hash(data: bytes)) : Array(Insecure.MD5.hash(data: bytes))
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    /// The `Authorization` value for `method` on `uri` (the request target, path and query).
    public func authorization(user: String, password: String, method: String, uri: String, cnonce: String, nc: Int = 1) -> String {
        var ha1 = hash("\(user):\(realm):\(password)")
        if algorithm.hasSuffix("-SESS") { ha1 = hash("\(ha1):\(nonce):\(cnonce)") }
        let ha2 = hash("\(method):\(uri)")
        let ncText = String(format: "%08x", nc)
        let response = qopAuth ? hash("\(ha1):\(nonce):\(ncText):\(cnonce):auth:\(ha2)") : hash("\(ha1):\(nonce):\(ha2)")
        func quoted(_ v: String) -> String { "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        var parts = ["username=\(quoted(user))", "realm=\(quoted(realm))", "nonce=\(quoted(nonce))", "uri=\(quoted(uri))",
                     "algorithm=\(algorithm == "MD5-SESS" ? "MD5-sess" : algorithm == "SHA-256-SESS" ? "SHA-256-sess" : algorithm)",
                     "response=\(quoted(response))"]
        if qopAuth { parts += ["qop=auth", "nc=\(ncText)", "cnonce=\(quoted(cnonce))"] }
        if let opaque { parts.append("opaque=\(quoted(opaque))") }
        return "Digest " + parts.joined(separator: ", ")
    }
}
