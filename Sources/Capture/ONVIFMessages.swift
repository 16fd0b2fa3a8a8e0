import Crypto
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The SOAP side of an ONVIF camera's Media service (ver10 media WSDL), as values: the request
/// envelopes with their WS-Security header, and what the answers mean. No I/O: `ONVIFClient`
/// sends these and hands back the bytes.
public enum ONVIF {
    static let soapNS = "http://www.w3.org/2003/05/soap-envelope"
    static let soap11NS = "http://schemas.xmlsoap.org/soap/envelope/"
    static let mediaNS = "http://www.onvif.org/ver10/media/wsdl"
    static let schemaNS = "http://www.onvif.org/ver10/schema"
    static let wsseNS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    static let wsuNS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    static let passwordDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
    static let base64BinaryType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

    /// The Media service operations the gateway calls.
    public enum Operation: String, Sendable {
        case getProfiles = "GetProfiles"
        case getStreamUri = "GetStreamUri"
        case getSnapshotUri = "GetSnapshotUri"
        /// SOAP 1.2 over HTTP carries the action in the media type (ONVIF Core §5.1.4).
        public var soapAction: String { "\(ONVIF.mediaNS)/\(rawValue)" }
    }

    /// A WS-Security UsernameToken with a PasswordDigest (Username Token Profile 1.0 §3.1, which
    /// ONVIF Core §5.12 requires): Base64(SHA-1(nonce + created + password)), where nonce is the
    /// raw bytes (sent Base64-encoded) and created the UTF-8 text of the `wsu:Created` element.
    public struct UsernameToken: Sendable, Equatable {
        public var user: String
        public var password: String
        public var nonce: [UInt8]
        public var created: Date

        public init(user: String, password: String, nonce: [UInt8], created: Date) {
            self.user = user; self.password = password; self.nonce = nonce; self.created = created
        }

        /// A token with 16 fresh random bytes of nonce, created now.
        public static func fresh(user: String, password: String, now: Date = Date()) -> UsernameToken {
            var g = SystemRandomNumberGenerator()
            return UsernameToken(user: user, password: password, nonce: (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }, created: now)
        }

        /// xsd:dateTime in UTC, whole seconds: some cameras refuse fractions.
        public var createdText: String {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime]
            f.timeZone = TimeZone(identifier: "UTC")
            return f.string(from: created)
        }

        public var digest: String {
            Data(Insecure.SHA1.hash(data: nonce + Array(createdText.utf8) + Array(password.utf8))).base64EncodedString()
        }

        var header: String {
            """
            <wsse:Security s:mustUnderstand="1" xmlns:wsse="\(ONVIF.wsseNS)" xmlns:wsu="\(ONVIF.wsuNS)">\
            <wsse:UsernameToken><wsse:Username>\(ONVIF.escape(user))</wsse:Username>\
            <wsse:Password Type="\(ONVIF.passwordDigestType)">\(digest)</wsse:Password>\
            <wsse:Nonce EncodingType="\(ONVIF.base64BinaryType)">\(Data(nonce).base64EncodedString())</wsse:Nonce>\
            <wsu:Created>\(createdText)</wsu:Created></wsse:UsernameToken></wsse:Security>
            """
        }
    }

    /// The SOAP 1.2 envelope for `operation`; `body` is the operation's parameters (already XML).
    public static func envelope(_ operation: Operation, body: String = "", token: UsernameToken?) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>\
        <s:Envelope xmlns:s="\(soapNS)" xmlns:trt="\(mediaNS)" xmlns:tt="\(schemaNS)">\
        <s:Header>\(token?.header ?? "")</s:Header>\
        <s:Body><trt:\(operation.rawValue)>\(body)</trt:\(operation.rawValue)></s:Body></s:Envelope>
        """
    }

    public static func getProfiles(token: UsernameToken?) -> String { envelope(.getProfiles, token: token) }

    /// RTP unicast; `tcp` asks for RTP over RTSP (interleaved on the RTSP connection), `udp` for
    /// RTP over UDP. The schema's `TCP` value is deprecated, so it is not used.
    public static func getStreamUri(profile: String, udp: Bool, token: UsernameToken?) -> String {
        envelope(.getStreamUri, body: """
            <trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>\(udp ? "UDP" : "RTSP")</tt:Protocol></tt:Transport></trt:StreamSetup>\
            <trt:ProfileToken>\(escape(profile))</trt:ProfileToken>
            """, token: token)
    }

    public static func getSnapshotUri(profile: String, token: UsernameToken?) -> String {
        envelope(.getSnapshotUri, body: "<trt:ProfileToken>\(escape(profile))</trt:ProfileToken>", token: token)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    // MARK: Answers

    /// A media profile: its token, and whether it has a video encoder (a stream to ask for).
    public struct Profile: Sendable, Equatable {
        public var token: String
        public var hasVideoEncoder: Bool
        public init(token: String, hasVideoEncoder: Bool) { self.token = token; self.hasVideoEncoder = hasVideoEncoder }
    }

    /// A SOAP fault: its code, subcodes (local names, outermost first, e.g. `NotAuthorized`) and reason.
    public struct Fault: Sendable, Equatable {
        public var code: String
        public var subcodes: [String]
        public var reason: String
        public var notAuthorized: Bool { subcodes.contains("NotAuthorized") }
    }

    public enum AnswerError: Error, Sendable, Equatable {
        case fault(Fault)
        /// Not XML, too deep, not a SOAP envelope, or missing what the operation returns.
        case malformed(String)
    }

    /// Largest answer read, and deepest nesting parsed: a GetProfiles answer of a camera with
    /// a dozen profiles is tens of KiB and about ten levels deep.
    public static let maxAnswerBytes = 1 << 20
    public static let maxDepth = 40
    static let maxElements = 20_000
    static let maxTextBytes = 8 << 10

    /// The profiles of a GetProfiles answer, in the camera's order.
    public static func profiles(_ answer: [UInt8]) throws(AnswerError) -> [Profile] {
        let response = try body(answer, expecting: "GetProfilesResponse")
        let profiles = response.children.filter { $0.name == "Profiles" && $0.namespace == mediaNS }.compactMap { p -> Profile? in
            guard let token = p.attributes["token"], !token.isEmpty else { return nil }
            return Profile(token: token, hasVideoEncoder: p.children.contains { $0.name == "VideoEncoderConfiguration" })
        }
        guard !profiles.isEmpty else { throw .malformed("GetProfilesResponse names no profile") }
        return profiles
    }

    /// The `MediaUri/Uri` of a GetStreamUri or GetSnapshotUri answer.
    public static func uri(_ answer: [UInt8], of operation: Operation) throws(AnswerError) -> String {
        let response = try body(answer, expecting: operation.rawValue + "Response")
        guard let media = response.children.first(where: { $0.name == "MediaUri" }),
              let uri = media.children.first(where: { $0.name == "Uri" })?.text.trimmingCharacters(in: .whitespacesAndNewlines), !uri.isEmpty else {
            throw .malformed("\(operation.rawValue)Response has no MediaUri/Uri")
        }
        return uri
    }

    /// The Body's first element, which must be `expecting` (or a Fault, thrown).
    static func body(_ answer: [UInt8], expecting: String) throws(AnswerError) -> Element {
        let root = try parse(answer)
        guard root.name == "Envelope", root.namespace == soapNS || root.namespace == soap11NS else {
            throw .malformed("not a SOAP envelope (root element \(root.name))")
        }
        guard let body = root.children.first(where: { $0.name == "Body" }), let first = body.children.first else {
            throw .malformed("the SOAP envelope has no Body content")
        }
        if first.name == "Fault" { throw .fault(fault(first)) }
        guard first.name == expecting else { throw .malformed("expected \(expecting), got \(first.name)") }
        return first
    }

    /// SOAP 1.2 (`Code/Value`, `Code/Subcode/Value…`, `Reason/Text`) or SOAP 1.1 (`faultcode`, `faultstring`).
    static func fault(_ f: Element) -> Fault {
        func local(_ qname: String) -> String { String(qname.split(separator: ":").last ?? Substring(qname)).trimmingCharacters(in: .whitespacesAndNewlines) }
        if let code = f.children.first(where: { $0.name == "Code" }) {
            var subcodes: [String] = []
            var level = code.children.first { $0.name == "Subcode" }
            while let sub = level, subcodes.count < 8 {
                if let v = sub.children.first(where: { $0.name == "Value" }) { subcodes.append(local(v.text)) }
                level = sub.children.first { $0.name == "Subcode" }
            }
            let reason = f.children.first { $0.name == "Reason" }?.children.first { $0.name == "Text" }?.text ?? ""
            return Fault(code: local(code.children.first { $0.name == "Value" }?.text ?? ""), subcodes: subcodes,
                         reason: reason.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let code = local(f.children.first { $0.name == "faultcode" }?.text ?? "")
        let reason = f.children.first { $0.name == "faultstring" }?.text ?? ""
        return Fault(code: code, subcodes: code == "NotAuthorized" ? ["NotAuthorized"] : [], reason: reason.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: Bounded XML

    /// An element of a parsed answer: local name, namespace, attributes (local names), text.
    struct Element {
        var name: String
        var namespace: String
        var attributes: [String: String]
        var text = ""
        var children: [Element] = []
    }

    /// Parses `bytes` into elements with every bound checked: bytes, depth, element count, text
    /// per element. A document type declaration is refused outright: SOAP forbids one (SOAP 1.2
    /// Part 1 §5), and without it no entity can be declared, so none can expand.
    static func parse(_ bytes: [UInt8]) throws(AnswerError) -> Element {
        guard bytes.count <= maxAnswerBytes else { throw .malformed("answer longer than \(maxAnswerBytes) bytes") }
        // Checked here, before Foundation's XMLParser sees them: on Linux it traps on some
        // malformed names (an invalid UTF-8 byte or a control character in an attribute name),
        // and neither may appear in a SOAP message (UTF-8 text, XML 1.0 characters).
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .malformed("the answer is not UTF-8") }
        if bytes.contains(where: { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }) { throw .malformed("the answer has a control character") }
        let data = Data(bytes)
        if data.range(of: Data("<!DOCTYPE".utf8)) != nil { throw .malformed("the answer has a document type declaration") }
        let builder = TreeBuilder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        let ok = parser.parse()
        if let limit = builder.limit { throw .malformed(limit) }
        guard ok, let root = builder.root else {
            throw .malformed("not well-formed XML (\(parser.parserError.map { "\($0.localizedDescription)" } ?? "no root element"))")
        }
        return root
    }

    /// Builds the element tree, stopping the parser at the first bound passed.
    final class TreeBuilder: NSObject, XMLParserDelegate {
        var stack: [Element] = []
        var root: Element?
        var elements = 0
        var limit: String?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            elements += 1
            if stack.count >= ONVIF.maxDepth { stop(parser, "answer nested deeper than \(ONVIF.maxDepth) elements"); return }
            if elements > ONVIF.maxElements { stop(parser, "answer has more than \(ONVIF.maxElements) elements"); return }
            var attrs: [String: String] = [:]
            for (k, v) in attributes { attrs[String(k.split(separator: ":").last ?? Substring(k))] = v }
            stack.append(Element(name: name, namespace: namespaceURI ?? "", attributes: attrs))
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard !stack.isEmpty else { return }
            if stack[stack.count - 1].text.utf8.count + string.utf8.count > ONVIF.maxTextBytes { stop(parser, "an element's text is longer than \(ONVIF.maxTextBytes) bytes"); return }
            stack[stack.count - 1].text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard let done = stack.popLast() else { return }
            if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(done) }
        }

        private func stop(_ parser: XMLParser, _ why: String) {
            if limit == nil { limit = why }
            parser.abortParsing()
        }
    }
}
