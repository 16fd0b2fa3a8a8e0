/// A broker address parsed from `mqtt://host[:port]` (TCP, default port 1883) or
/// `mqtts://host[:port]` (TLS, default port 8883). `tcp://`, `ssl://` and `tls://` are accepted
/// as synonyms; IPv6 hosts are written in brackets (`mqtt://[::1]:1883`).
public struct MQTTBrokerAddress: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var useTLS: Bool

    public init(host: String, port: Int, useTLS: Bool) {
        self.host = host
        self.port = port
        self.useTLS = useTLS
    }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing url: String) throws {
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw ParseError(description: "'\(url)' is not a broker URL (expected mqtt://host:port or mqtts://host:port)")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "mqtt", "tcp": useTLS = false
        case "mqtts", "ssl", "tls": useTLS = true
        default: throw ParseError(description: "unsupported scheme '\(scheme)' in '\(url)' (use mqtt:// or mqtts://)")
        }
        var rest = url[schemeEnd.upperBound...]
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw ParseError(description: "unexpected path in broker URL '\(url)'")
            }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            throw ParseError(description: "credentials in the broker URL are not supported ('\(rest[..<at])@…'); use username / password settings")
        }
        var hostPart = Substring(rest)
        var portPart: Substring?
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw ParseError(description: "unterminated IPv6 address in '\(url)'") }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw ParseError(description: "unexpected text after IPv6 address in '\(url)'")
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portPart = hostPart[hostPart.index(after: colon)...]
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw ParseError(description: "missing host in '\(url)'") }
        host = String(hostPart)
        if let portPart {
            guard let p = Int(portPart), (1...65535).contains(p) else {
                throw ParseError(description: "invalid port '\(portPart)' in '\(url)'")
            }
            port = p
        } else {
            port = useTLS ? 8883 : 1883
        }
    }
}
