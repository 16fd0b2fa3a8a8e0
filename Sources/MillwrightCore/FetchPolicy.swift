import Foundation

/// Where the gateway may fetch a camera frame from (`evidence.fetch_allow`). A detection's
/// `image.url` is written by whoever holds an ingest key, so without this the gateway is a
/// proxy into the plant network: loopback admin ports, the NVR's neighbours, the cloud
/// metadata service.
///
/// - Without a list, any public address is allowed and every internal one (loopback, private,
///   link-local — which holds the cloud metadata service —, carrier-grade NAT, multicast,
///   unspecified) is refused.
/// - With a list, only what it names: a hostname (any port), `host:port`, an address, or a
///   CIDR block. Naming an internal host or block is how an NVR on the plant network is allowed.
///
/// The check is made on the address actually connected to (after DNS), so a name that
/// resolves to an internal address later (DNS rebinding) is refused too.
public struct FetchPolicy: Sendable, Equatable {
    public enum Entry: Sendable, Equatable {
        case host(String, port: Int?)
        case network(IPAddress, prefix: Int, port: Int?)
    }

    public var entries: [Entry]
    /// No list was configured: public addresses are fine, internal ones are not.
    public var allowsPublic: Bool
    public init(entries: [Entry] = [], allowsPublic: Bool = true) { self.entries = entries; self.allowsPublic = allowsPublic }

    /// Parses one `fetch_allow` entry; nil names what is wrong.
    public static func parse(_ text: String) -> Result<Entry, FieldProblem> {
        var t = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !t.isEmpty, t.utf8.count <= 255 else { return .failure(FieldProblem(field: nil, "is empty or too long")) }
        var port: Int?
        // host:port or [v6]:port; a bare IPv6 address has several colons and no port.
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            let rest = t[t.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return .failure(FieldProblem(field: nil, "has an invalid port")) }
                port = p
            } else if !rest.isEmpty { return .failure(FieldProblem(field: nil, "is not host, host:port, address or CIDR")) }
            t = String(t[t.index(after: t.startIndex)..<close])
        } else if t.filter({ $0 == ":" }).count == 1, let colon = t.firstIndex(of: ":") {
            guard let p = Int(t[t.index(after: colon)...]), (1...65535).contains(p) else { return .failure(FieldProblem(field: nil, "has an invalid port")) }
            port = p
            t = String(t[..<colon])
        }
        if let slash = t.firstIndex(of: "/") {
            guard let ip = IPAddress(String(t[..<slash])), let prefix = Int(t[t.index(after: slash)...]),
                  (0...ip.bitCount).contains(prefix) else { return .failure(FieldProblem(field: nil, "is not a valid CIDR block (e.g. 10.20.0.0/16)")) }
            return .success(.network(ip, prefix: prefix, port: port))
        }
        if let ip = IPAddress(t) { return .success(.network(ip, prefix: ip.bitCount, port: port)) }
        guard t.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" }), t.first != "." else {
            return .failure(FieldProblem(field: nil, "is not a hostname, host:port, address or CIDR block"))
        }
        return .success(.host(t, port: port))
    }

    public enum Decision: Sendable, Equatable {
        case allowed
        case refused(String)
    }

    /// May the gateway connect to `address` on `port`, reached through the name `host`?
    public func decide(host: String, port: Int, address: IPAddress) -> Decision {
        let name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]."))
        for e in entries {
            switch e {
            case let .host(h, p) where h == name && (p == nil || p == port): return .allowed
            case let .network(net, prefix, p) where address.isIn(net, prefix: prefix) && (p == nil || p == port): return .allowed
            default: continue
            }
        }
        if allowsPublic {
            return address.isInternal ? .refused("\(address) is an internal address; list it in evidence.fetch_allow to allow it") : .allowed
        }
        return .refused("\(name):\(port) (\(address)) is not in evidence.fetch_allow")
    }
}

extension FetchPolicy {
    /// Why the gateway may not capture from `url` (a camera's stream, ONVIF service or snapshot),
    /// or nil when it may. An address literal is decided as it is; a host name must be listed by
    /// name, because what it will resolve to is not known when the URL is checked.
    public func captureRefusal(url: String) -> String? {
        guard let parts = URLComponents(string: url), let rawHost = parts.host, !rawHost.isEmpty else { return "'\(url.prefix(200))' has no host" }
        let host = rawHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let port = parts.port ?? ["rtsp": 554, "http": 80, "https": 443][parts.scheme?.lowercased() ?? ""] ?? 554
        if let ip = IPAddress(host) {
            if case .refused(let why) = decide(host: host, port: port, address: ip) { return "the camera's address is not allowed: \(why)" }
            return nil
        }
        let listed = entries.contains { if case .host(let h, let p) = $0 { h == host.lowercased() && (p == nil || p == port) } else { false } }
        return listed ? nil : "host \(host) must be listed in evidence.fetch_allow (by name) for the gateway to capture from it"
    }
}

/// An IPv4 or IPv6 address as bytes (IPv4-mapped IPv6 addresses are taken as IPv4).
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]
    public var bitCount: Int { bytes.count * 8 }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            self.bytes = Array(bytes[12...])
        } else {
            self.bytes = bytes
        }
    }

    public init?(_ text: String) {
        if let v4 = Self.parseV4(text) { self.init(bytes: v4); return }
        guard let v6 = Self.parseV6(text) else { return nil }
        self.init(bytes: v6)
    }

    static func parseV4(_ s: String) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let n = UInt8(p) else { return nil }
            out.append(n)
        }
        return out
    }

    static func parseV6(_ s: String) -> [UInt8]? {
        guard s.contains(":"), s.utf8.count <= 45 else { return nil }
        var text = Substring(s)
        var tail: [UInt8] = []
        // A trailing dotted IPv4 (::ffff:127.0.0.1).
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard let v4 = parseV4(String(text[text.index(after: lastColon)...])) else { return nil }
            tail = v4
            text = text[...lastColon]
            if text.hasSuffix(":") && !text.hasSuffix("::") { text = text.dropLast() }
        }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let wanted = (16 - tail.count) / 2
        var words: [UInt16]
        if let range = text.range(of: "::") {
            guard let head = groups(text[..<range.lowerBound]), let rest = groups(text[range.upperBound...]),
                  !text[range.upperBound...].contains("::"), head.count + rest.count < wanted else { return nil }
            words = head + Array(repeating: 0, count: wanted - head.count - rest.count) + rest
        } else {
            guard let all = groups(text), all.count == wanted else { return nil }
            words = all
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + tail
    }

    public func isIn(_ network: IPAddress, prefix: Int) -> Bool {
        guard network.bytes.count == bytes.count else { return false }
        var bits = prefix
        for i in 0..<bytes.count where bits > 0 {
            let take = min(8, bits)
            let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
            if bytes[i] & mask != network.bytes[i] & mask { return false }
            bits -= take
        }
        return true
    }

    /// Not on the public internet: loopback, private, link-local (the cloud metadata
    /// service), carrier-grade NAT, unique-local, multicast, unspecified, broadcast.
    public var isInternal: Bool {
        let blocks: [(String, Int)] = bytes.count == 4
            ? [("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8), ("169.254.0.0", 16), ("172.16.0.0", 12),
               ("192.0.0.0", 24), ("192.168.0.0", 16), ("198.18.0.0", 15), ("224.0.0.0", 4), ("240.0.0.0", 4)]
            : [("::", 128), ("::1", 128), ("fc00::", 7), ("fe80::", 10), ("ff00::", 8), ("64:ff9b::", 96), ("2001:db8::", 32)]
        return blocks.contains { isIn(IPAddress($0.0)!, prefix: $0.1) }
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }
}
