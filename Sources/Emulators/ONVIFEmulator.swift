import Crypto
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Hummingbird
import NIOCore

/// An ONVIF camera's Media service (ver10 media WSDL) for tests: GetProfiles, GetStreamUri and
/// GetSnapshotUri in SOAP 1.2, each checked for a WS-Security UsernameToken PasswordDigest
/// (Username Token Profile 1.0 §3.1): the digest, a `Created` within `maxClockSkew` of now,
/// and a nonce never seen before. A wrong user, password, stale `Created` or replayed nonce gets
/// the SOAP 1.2 fault ONVIF Core gives for it, `env:Sender` / `ter:NotAuthorized`. Its snapshot
/// URI asks for HTTP Digest authentication, as cameras' do.
///
/// Written from the specifications on its own (its own XML reading, its own digest check): it
/// shares no code with the gateway's ONVIF client, so it can catch the client's mistakes.
public enum ONVIFEmulator {
    public struct Options: Sendable {
        public var user: String
        public var password: String
        /// What GetStreamUri hands out; nil makes a camera without a stream (no video encoder
        /// in its profile), which only GetSnapshotUri serves.
        public var streamURI: String?
        /// The JPEG served at the snapshot URI; nil: GetSnapshotUri is refused.
        public var snapshot: Data?
        public var maxClockSkew: TimeInterval = 300
        /// The snapshot URI asks for HTTP Digest (RFC 7616, MD5, qop=auth) with the same user
        /// and password, as cameras do.
        public var snapshotDigest = true
        public init(user: String, password: String, streamURI: String?, snapshot: Data?) {
            self.user = user; self.password = password; self.streamURI = streamURI; self.snapshot = snapshot
        }
    }

    static let soap = "http://www.w3.org/2003/05/soap-envelope"
    static let digestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
    static let profileToken = "profile_1"
    static let maxRequestBytes = 64 << 10
    static let maxDepth = 16

    /// What the camera was asked, for the tests to look at.
    public final class Camera: @unchecked Sendable {
        private let lock = NSLock()
        private var options: Options
        /// Nonces of accepted requests, with their `Created`, forgotten once outside the clock skew.
        private var nonces: [String: Date] = [:]
        private var _calls: [String] = []
        private var _protocols: [String] = []
        private var _refusals: [String] = []
        private var _snapshots = 0
        static let maxNonces = 10_000
        static let maxLog = 1_000

        public init(_ options: Options) { self.options = options }

        /// Operations answered (not refused), in order.
        public var calls: [String] { lock.withLock { _calls } }
        /// The `Transport/Protocol` of each GetStreamUri.
        public var protocols: [String] { lock.withLock { _protocols } }
        /// Why requests were refused (`NotAuthorized` reasons), in order.
        public var refusals: [String] { lock.withLock { _refusals } }
        public var snapshotsServed: Int { lock.withLock { _snapshots } }
        var current: Options { lock.withLock { options } }
        /// A reboot that hands out a new stream URI.
        public func setStreamURI(_ uri: String?) { lock.withLock { options.streamURI = uri } }

        func note(call: String? = nil, protocol p: String? = nil, refusal: String? = nil) {
            lock.withLock {
                if let call, _calls.count < Self.maxLog { _calls.append(call) }
                if let p, _protocols.count < Self.maxLog { _protocols.append(p) }
                if let refusal, _refusals.count < Self.maxLog { _refusals.append(refusal) }
            }
        }

        func servedSnapshot() { lock.withLock { _snapshots += 1 } }

        /// Server nonces handed out in Digest challenges, each good for one answer.
        private var digestNonces: [String] = []

        func digestChallenge() -> String {
            let nonce = (0..<16).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
            lock.withLock {
                if digestNonces.count >= 100 { digestNonces.removeFirst() }
                digestNonces.append(nonce)
            }
            return #"Digest realm="ONVIF emulator", qop="auth", nonce="\#(nonce)", algorithm=MD5"#
        }

        /// Checks an `Authorization: Digest …` answer (RFC 7616 §3.4.1, MD5, qop=auth) against
        /// a nonce this camera issued, which it then forgets.
        func digestAccepted(_ header: String, method: String, target: String) -> Bool {
            guard header.hasPrefix("Digest "), header.utf8.count <= 4096 else { return false }
            var fields: [String: String] = [:]
            // name=value pairs; values may be quoted and contain commas.
            let scanner = Scanner(string: String(header.dropFirst(7)))
            scanner.charactersToBeSkipped = .whitespaces
            while !scanner.isAtEnd {
                guard let name = scanner.scanUpToString("=") else { break }
                _ = scanner.scanString("=")
                let value: String
                if scanner.scanString("\"") != nil {
                    value = scanner.scanUpToString("\"") ?? ""
                    _ = scanner.scanString("\"")
                } else {
                    value = scanner.scanUpToString(",") ?? ""
                }
                fields[name.trimmingCharacters(in: .whitespaces).lowercased()] = value
                _ = scanner.scanString(",")
            }
            let options = current
            guard fields["username"] == options.user, fields["uri"] == target, fields["qop"] == "auth",
                  let nonce = fields["nonce"], let nc = fields["nc"], let cnonce = fields["cnonce"], let response = fields["response"] else { return false }
            let issued = lock.withLock { () -> Bool in
                guard let i = digestNonces.firstIndex(of: nonce) else { return false }
                digestNonces.remove(at: i)
                return true
            }
            guard issued else { return false }
            func md5(_ s: String) -> String { Insecure.MD5.hash(data: Data(s.utf8)).map { String(format: "%02x", $0) }.joined() }
            let ha1 = md5("\(options.user):ONVIF emulator:\(options.password)"), ha2 = md5("\(method):\(target)")
            return response == md5("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
        }

        /// Records `nonce` if it is new; false if it was used before (a replay).
        func remember(nonce: String, created: Date, now: Date) -> Bool {
            lock.withLock {
                let skew = options.maxClockSkew
                if nonces.count >= Self.maxNonces { nonces = nonces.filter { abs(now.timeIntervalSince($0.value)) <= skew } }
                guard nonces[nonce] == nil else { return false }
                // Still full of fresh nonces: a flood; refuse rather than forget one that could be replayed.
                guard nonces.count < Self.maxNonces else { return false }
                nonces[nonce] = created
                return true
            }
        }
    }

    public static func router(camera: Camera) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        for path in ["/onvif/media_service", "/onvif/device_service"] {
            router.post(RouterPath(path)) { request, _ in
                var req = request
                guard let buffer = try? await req.collectBody(upTo: maxRequestBytes) else {
                    return fault(sender: true, subcodes: ["ter:InvalidArgVal"], reason: "request longer than \(maxRequestBytes) bytes")
                }
                let host = request.head.authority ?? "127.0.0.1"
                return answer(Array(buffer: buffer), camera: camera, host: host, now: Date())
            }
        }
        router.get("/onvif/snapshot.jpg") { request, _ in
            let options = camera.current
            guard let jpeg = options.snapshot else { return Response(status: .notFound) }
            if options.snapshotDigest {
                let target = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                guard let auth = request.headers[.authorization], camera.digestAccepted(auth, method: "GET", target: target) else {
                    camera.note(refusal: "snapshot without a valid HTTP Digest")
                    return Response(status: .unauthorized, headers: [.wwwAuthenticate: camera.digestChallenge()])
                }
            }
            camera.servedSnapshot()
            return Response(status: .ok, headers: [.contentType: "image/jpeg"], body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
        }
        return router
    }

    /// The answer to one SOAP request.
    static func answer(_ bytes: [UInt8], camera: Camera, host: String, now: Date) -> Response {
        let doc: SOAPRequest
        switch SOAPRequest.read(bytes) {
        case .failure(let e): return fault(sender: true, subcodes: ["ter:WellFormed"], reason: e.why)
        case .success(let d): doc = d
        }
        guard doc.envelopeNamespace == soap else {
            return fault(code: "env:VersionMismatch", subcodes: [], reason: "SOAP 1.2 envelope expected", status: .internalServerError)
        }
        let options = camera.current
        if let refusal = authenticate(doc, options: options, camera: camera, now: now) {
            camera.note(refusal: refusal)
            return fault(sender: true, subcodes: ["ter:NotAuthorized"], reason: "Sender not Authorized")
        }
        switch doc.operation {
        case "GetProfiles":
            camera.note(call: "GetProfiles")
            return ok(profilesXML(withEncoder: options.streamURI != nil))
        case "GetStreamUri":
            let stream = doc.text(["Body", "GetStreamUri", "StreamSetup", "Stream"]) ?? ""
            let proto = doc.text(["Body", "GetStreamUri", "StreamSetup", "Transport", "Protocol"]) ?? ""
            guard doc.text(["Body", "GetStreamUri", "ProfileToken"]) == profileToken else {
                return fault(sender: true, subcodes: ["ter:InvalidArgVal", "ter:NoProfile"], reason: "no such profile")
            }
            guard stream == "RTP-Unicast" || stream == "RTP-Multicast", ["UDP", "TCP", "RTSP", "HTTP"].contains(proto) else {
                return fault(sender: true, subcodes: ["ter:InvalidArgVal", "ter:InvalidStreamSetup"], reason: "StreamSetup '\(stream)' over '\(proto)' is not supported")
            }
            guard let uri = options.streamURI else {
                return fault(sender: false, subcodes: ["ter:ActionNotSupported"], reason: "the profile has no video encoder")
            }
            camera.note(call: "GetStreamUri", protocol: proto)
            return ok("<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>\(xmlText(uri))</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                      + "<tt:InvalidAfterReboot>true</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>")
        case "GetSnapshotUri":
            guard doc.text(["Body", "GetSnapshotUri", "ProfileToken"]) == profileToken else {
                return fault(sender: true, subcodes: ["ter:InvalidArgVal", "ter:NoProfile"], reason: "no such profile")
            }
            guard options.snapshot != nil else {
                return fault(sender: false, subcodes: ["ter:ActionNotSupported"], reason: "no snapshot")
            }
            camera.note(call: "GetSnapshotUri")
            return ok("<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://\(xmlText(host))/onvif/snapshot.jpg</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                      + "<tt:InvalidAfterReboot>true</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>")
        default:
            return fault(sender: false, subcodes: ["ter:ActionNotSupported"], reason: "\(doc.operation.prefix(100)) is not implemented by this emulator")
        }
    }

    /// Why the request's UsernameToken is refused, or nil when it is good.
    static func authenticate(_ doc: SOAPRequest, options: Options, camera: Camera, now: Date) -> String? {
        let token = ["Header", "Security", "UsernameToken"]
        guard let user = doc.text(token + ["Username"]), let password = doc.text(token + ["Password"]),
              let nonceText = doc.text(token + ["Nonce"]), let createdText = doc.text(token + ["Created"]) else {
            return "no UsernameToken with Username, Password, Nonce and Created"
        }
        guard doc.attribute(token + ["Password"], "Type") == digestType else { return "the password is not a PasswordDigest" }
        guard let nonce = Data(base64Encoded: nonceText) else { return "the nonce is not Base64" }
        guard let created = parseDateTime(createdText) else { return "Created '\(createdText.prefix(40))' is not an xsd:dateTime" }
        guard abs(now.timeIntervalSince(created)) <= options.maxClockSkew else { return "Created \(createdText) is stale" }
        var hashed = Data(nonce)
        hashed.append(contentsOf: Array(createdText.utf8))
        hashed.append(contentsOf: Array(options.password.utf8))
        let expected = Data(Insecure.SHA1.hash(data: hashed)).base64EncodedString()
        guard user == options.user, password == expected else { return "wrong user or password" }
        guard camera.remember(nonce: nonceText, created: created, now: now) else { return "the nonce was used before" }
        return nil
    }

    /// xsd:dateTime in UTC (`Z`), with or without fractional seconds.
    static func parseDateTime(_ s: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let d = plain.date(from: s) { return d }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: s)
    }

    static func profilesXML(withEncoder: Bool) -> String {
        let encoder = withEncoder
            ? "<tt:VideoEncoderConfiguration token=\"encoder_1\"><tt:Name>JPEG 320x240</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>JPEG</tt:Encoding>"
            + "<tt:Resolution><tt:Width>320</tt:Width><tt:Height>240</tt:Height></tt:Resolution><tt:Quality>80</tt:Quality></tt:VideoEncoderConfiguration>"
            : ""
        return "<trt:GetProfilesResponse><trt:Profiles token=\"\(profileToken)\" fixed=\"true\"><tt:Name>main</tt:Name>"
            + "<tt:VideoSourceConfiguration token=\"source_1\"><tt:Name>sensor</tt:Name><tt:UseCount>1</tt:UseCount><tt:SourceToken>video_1</tt:SourceToken>"
            + "<tt:Bounds x=\"0\" y=\"0\" width=\"320\" height=\"240\"/></tt:VideoSourceConfiguration>\(encoder)</trt:Profiles></trt:GetProfilesResponse>"
    }

    static func ok(_ body: String) -> Response {
        soapResponse(.ok, "<env:Body>\(body)</env:Body>")
    }

    static func fault(sender: Bool, subcodes: [String], reason: String) -> Response {
        fault(code: sender ? "env:Sender" : "env:Receiver", subcodes: subcodes, reason: reason, status: sender ? .badRequest : .internalServerError)
    }

    /// A SOAP 1.2 fault; the HTTP status follows SOAP 1.2 Part 2 §7.5.2.2 (Sender 400, otherwise 500).
    static func fault(code: String, subcodes: [String], reason: String, status: HTTPResponse.Status) -> Response {
        let codeXML = "<env:Value>\(code)</env:Value>"
        var nested = ""
        for s in subcodes.reversed() { nested = "<env:Subcode><env:Value>\(s)</env:Value>\(nested)</env:Subcode>" }
        return soapResponse(status, "<env:Body><env:Fault><env:Code>\(codeXML)\(nested)</env:Code>"
                            + "<env:Reason><env:Text xml:lang=\"en\">\(xmlText(reason))</env:Text></env:Reason></env:Fault></env:Body>")
    }

    static func soapResponse(_ status: HTTPResponse.Status, _ inner: String) -> Response {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><env:Envelope xmlns:env=\"\(soap)\" xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\" "
            + "xmlns:tt=\"http://www.onvif.org/ver10/schema\" xmlns:ter=\"http://www.onvif.org/ver10/error\">\(inner)</env:Envelope>"
        return Response(status: status, headers: [.contentType: "application/soap+xml; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: xml)))
    }

    static func xmlText(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// A SOAP request as the emulator reads it: every element by its path of local names below the
/// Envelope, with its text and attributes. Bounded in bytes and depth; a DTD is refused.
struct SOAPRequest {
    var envelopeNamespace = ""
    /// The first element in Body.
    var operation = ""
    var texts: [[String]: String] = [:]
    var attributes: [[String]: [String: String]] = [:]

    func text(_ path: [String]) -> String? { texts[path].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } }
    func attribute(_ path: [String], _ name: String) -> String? { attributes[path]?[name] }

    struct Unreadable: Error { var why: String }

    static func read(_ bytes: [UInt8]) -> Result<SOAPRequest, Unreadable> {
        guard bytes.count <= ONVIFEmulator.maxRequestBytes else { return .failure(Unreadable(why: "request too long")) }
        // Foundation's XMLParser on Linux traps on some malformed names; a SOAP message is UTF-8
        // text without control characters, so anything else is refused before it parses.
        guard String(validating: bytes, as: UTF8.self) != nil,
              !bytes.contains(where: { $0 < 32 && ![9, 10, 13].contains($0) }) else { return .failure(Unreadable(why: "not UTF-8 XML text")) }
        let data = Data(bytes)
        if data.range(of: Data("<!DOCTYPE".utf8)) != nil { return .failure(Unreadable(why: "a SOAP message must not have a DTD")) }
        let reader = PathReader()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.delegate = reader
        let parsed = parser.parse()
        if let problem = reader.problem { return .failure(Unreadable(why: problem)) }
        guard parsed else { return .failure(Unreadable(why: "not well-formed XML")) }
        return .success(reader.doc)
    }

    final class PathReader: NSObject, XMLParserDelegate {
        var doc = SOAPRequest()
        var path: [String] = []
        var text = ""
        var problem: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if path.isEmpty { doc.envelopeNamespace = namespaceURI ?? "" }
            path.append(name)
            guard path.count <= ONVIFEmulator.maxDepth else { problem = "nested too deep"; parser.abortParsing(); return }
            if path.count == 3, path[1] == "Body", doc.operation.isEmpty { doc.operation = name }
            let key = Array(path.dropFirst())
            // The first element at a path wins; its attributes by local name.
            if doc.attributes[key] == nil {
                doc.attributes[key] = Dictionary(attributes.map { (String($0.key.split(separator: ":").last ?? ""), $0.value) }, uniquingKeysWith: { a, _ in a })
            }
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if text.utf8.count < 4096 { text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let key = Array(path.dropFirst())
            if doc.texts[key] == nil { doc.texts[key] = text }
            text = ""
            path.removeLast()
        }
    }
}
