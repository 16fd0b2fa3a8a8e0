import Foundation
import MillwrightCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Fetches a camera frame by URL for the evidence image, and nothing else: GET only, every
/// address checked against `FetchPolicy` *before* connecting (the resolved address is the one
/// connected to, so DNS rebinding cannot swap it), at most three redirects each checked the
/// same way, a size limit and one deadline for the whole fetch.
///
/// Errors come in two kinds for the evidence card: `notAllowed` and `unreachable`. What went
/// wrong in detail (an HTTP status, a refused connection) is for the log, never for the card,
/// which viewers and the CMMS read.
public struct FrameFetcher: Sendable {
    public enum Failure: Error, Sendable, Equatable {
        case notAllowed(detail: String)
        case unreachable(detail: String)

        /// What the evidence card says.
        public var cardText: String {
            switch self {
            case .notAllowed: "frame URL not allowed (evidence.fetch_allow)"
            case .unreachable: "frame URL unreachable"
            }
        }
        public var detail: String {
            switch self { case .notAllowed(let d), .unreachable(let d): d }
        }
    }

    public let policy: FetchPolicy
    public let maxBytes: Int
    public let timeout: TimeAmount
    public static let maxRedirects = 3

    public init(policy: FetchPolicy, maxBytes: Int, timeout: TimeAmount = .seconds(5)) {
        self.policy = policy; self.maxBytes = maxBytes; self.timeout = timeout
    }

    public func fetch(_ urlString: String) async throws(Failure) -> Data {
        let deadline = NIODeadline.now() + timeout
        var current = urlString
        for _ in 0...Self.maxRedirects {
            let target = try Self.target(current)
            let address = try await resolveAllowed(target)
            let answer = try await get(target, at: address, deadline: deadline)
            switch answer {
            case .body(let data): return data
            case .redirect(let location):
                guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                    throw .unreachable(detail: "redirect to an unreadable location")
                }
                current = next
            }
        }
        throw .unreachable(detail: "more than \(Self.maxRedirects) redirects")
    }

    struct Target {
        var tls: Bool
        var host: String
        var port: Int
        var pathAndQuery: String
        var hostHeader: String
    }

    static func target(_ s: String) throws(Failure) -> Target {
        guard let u = URLComponents(string: s), let scheme = u.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = u.host, !host.isEmpty else {
            throw .notAllowed(detail: "not an http(s) URL")
        }
        guard u.user == nil, u.password == nil else { throw .notAllowed(detail: "credentials in the URL") }
        let tls = scheme == "https"
        let port = u.port ?? (tls ? 443 : 80)
        guard (1...65535).contains(port) else { throw .notAllowed(detail: "invalid port") }
        var path = u.percentEncodedPath.isEmpty ? "/" : u.percentEncodedPath
        if let q = u.percentEncodedQuery { path += "?" + q }
        let bareHost = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let hostHeader = (bareHost.contains(":") ? "[\(bareHost)]" : bareHost) + (u.port.map { ":\($0)" } ?? "")
        return Target(tls: tls, host: bareHost, port: port, pathAndQuery: path, hostHeader: hostHeader)
    }

    /// The first resolved address the policy allows; refused when none is.
    func resolveAllowed(_ t: Target) async throws(Failure) -> SocketAddress {
        let candidates: [SocketAddress]
        do {
            candidates = try await Self.resolve(host: t.host, port: t.port)
        } catch {
            throw .unreachable(detail: "cannot resolve \(t.host)")
        }
        var refusal = "no address for \(t.host)"
        for a in candidates {
            guard let ip = Self.ipAddress(a) else { continue }
            switch policy.decide(host: t.host, port: t.port, address: ip) {
            case .allowed: return a
            case .refused(let why): refusal = why
            }
        }
        throw .notAllowed(detail: refusal)
    }

    static func resolve(host: String, port: Int) async throws -> [SocketAddress] {
        if let ip = IPAddress(host) {
            return [try SocketAddress(ipAddress: ip.description, port: port)]
        }
        // getaddrinfo blocks: off the cooperative pool.
        return try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { throw FetchResolveError() }
            defer { freeaddrinfo(first) }
            var out: [SocketAddress] = []
            var p: UnsafeMutablePointer<addrinfo>? = first
            while let info = p {
                if let sa = info.pointee.ai_addr {
                    switch Int32(sa.pointee.sa_family) {
                    case AF_INET: out.append(sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) })
                    case AF_INET6: out.append(sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: host) })
                    default: break
                    }
                }
                p = info.pointee.ai_next
            }
            return out
        }
    }

    static func ipAddress(_ a: SocketAddress) -> IPAddress? {
        switch a {
        case .v4(let v):
            var addr = v.address.sin_addr
            return withUnsafeBytes(of: &addr) { IPAddress(bytes: Array($0)) }
        case .v6(let v):
            var addr = v.address.sin6_addr
            return withUnsafeBytes(of: &addr) { IPAddress(bytes: Array($0)) }
        default:
            return nil
        }
    }

    enum Answer { case body(Data), redirect(String) }

    func get(_ t: Target, at address: SocketAddress, deadline: NIODeadline) async throws(Failure) -> Answer {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.next().makePromise(of: Answer.self)
        let limit = maxBytes
        let sslContext: NIOSSLContext?
        if t.tls {
            do { sslContext = try Self.sharedTLS() } catch { throw .unreachable(detail: "TLS unavailable: \(error)") }
        } else {
            sslContext = nil
        }
        let host = t.host
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(max(.milliseconds(1), deadline - .now()))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        let handler = try NIOSSLClientHandler(context: sslContext, serverHostname: IPAddress(host) == nil ? host : nil)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(FrameResponseHandler(limit: limit, promise: promise))
                }
            }
        let channel: Channel
        do { channel = try await bootstrap.connect(to: address).get() } catch {
            promise.fail(error)
            throw .unreachable(detail: "connect to \(address): \(error)")
        }
        // The address connected to is the one the policy allowed; check again regardless.
        if let remote = channel.remoteAddress, let ip = Self.ipAddress(remote), case .refused(let why) = policy.decide(host: t.host, port: t.port, address: ip) {
            channel.close(promise: nil)
            promise.fail(FetchResolveError())
            throw .notAllowed(detail: why)
        }
        let timeoutTask = channel.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(FetchTimeout())
            channel.close(promise: nil)
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: t.pathAndQuery)
        head.headers.add(name: "Host", value: t.hostHeader)
        head.headers.add(name: "Accept", value: "image/jpeg, image/png")
        head.headers.add(name: "User-Agent", value: "millwright-evidence")
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        do {
            let answer = try await promise.futureResult.get()
            timeoutTask.cancel()
            channel.close(promise: nil)
            return answer
        } catch let f as Failure {
            timeoutTask.cancel()
            channel.close(promise: nil)
            throw f
        } catch {
            timeoutTask.cancel()
            channel.close(promise: nil)
            throw .unreachable(detail: error is FetchTimeout ? "no complete answer within the deadline" : "\(error)")
        }
    }

    private static let tls = Result { try NIOSSLContext(configuration: .makeClientConfiguration()) }
    static func sharedTLS() throws -> NIOSSLContext { try tls.get() }
}

struct FetchResolveError: Error {}
struct FetchTimeout: Error {}

/// Collects one response: 200 with an image body up to `limit` bytes, or a redirect.
final class FrameResponseHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let limit: Int
    let promise: EventLoopPromise<FrameFetcher.Answer>
    var body = Data()
    var redirect: String?
    var done = false

    init(limit: Int, promise: EventLoopPromise<FrameFetcher.Answer>) { self.limit = limit; self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            if [301, 302, 303, 307, 308].contains(head.status.code), let location = head.headers.first(name: "Location") {
                redirect = location
                return
            }
            guard head.status == .ok else { return fail(context, .unreachable(detail: "HTTP \(head.status.code)")) }
            let type = head.headers.first(name: "Content-Type")?.lowercased() ?? ""
            guard type.isEmpty || type.hasPrefix("image/jpeg") || type.hasPrefix("image/png") || type.hasPrefix("application/octet-stream") else {
                return fail(context, .unreachable(detail: "answered \(type.prefix(60)), not an image"))
            }
            if let length = head.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
                return fail(context, .unreachable(detail: "frame of \(length) bytes is over the \(limit)-byte limit"))
            }
        case .body(let buffer):
            guard redirect == nil else { return }
            guard body.count + buffer.readableBytes <= limit else {
                return fail(context, .unreachable(detail: "frame is over the \(limit)-byte limit"))
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            done = true
            if let redirect { promise.succeed(.redirect(redirect)) } else { promise.succeed(.body(body)) }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done { fail(context, .unreachable(detail: "connection closed before the answer was complete")) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        fail(context, .unreachable(detail: "\(error)"))
    }

    private func fail(_ context: ChannelHandlerContext, _ f: FrameFetcher.Failure) {
        guard !done else { return }
        done = true
        promise.fail(f)
        context.close(promise: nil)
    }
}
