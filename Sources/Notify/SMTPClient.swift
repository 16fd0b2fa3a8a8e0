import Logging
import NIOCore
import NIOPosix
import NIOSSL

public struct SMTPConfiguration: Sendable {
    public enum Security: Sendable, Equatable {
        /// Plain TCP, no TLS (a local relay on a trusted network).
        case plain
        /// Plain TCP upgraded with STARTTLS; fails if the server does not offer it.
        case startTLS
        /// TLS from the first byte (port 465).
        case implicitTLS
    }
    public var host: String
    public var port: Int
    public var security: Security
    /// Trust roots etc.; `.makeClientConfiguration()` with a custom CA for plant-internal relays.
    public var tls: TLSConfiguration
    /// Name checked against the server certificate; defaults to `host`.
    public var serverHostname: String?
    /// Our EHLO name.
    public var clientName: String
    public var credentials: SMTPCredentials?
    /// Only for a relay on localhost: send credentials without TLS.
    public var allowInsecureAuth: Bool
    public var connectTimeout: TimeAmount
    /// Per reply: how long we wait for the server to answer each command.
    public var replyTimeout: TimeAmount

    public init(host: String, port: Int, security: Security = .startTLS, tls: TLSConfiguration = .makeClientConfiguration(),
                serverHostname: String? = nil, clientName: String = "millwright.localdomain", credentials: SMTPCredentials? = nil,
                allowInsecureAuth: Bool = false, connectTimeout: TimeAmount = .seconds(10), replyTimeout: TimeAmount = .seconds(30)) {
        self.host = host; self.port = port; self.security = security; self.tls = tls; self.serverHostname = serverHostname
        self.clientName = clientName; self.credentials = credentials; self.allowInsecureAuth = allowInsecureAuth
        self.connectTimeout = connectTimeout; self.replyTimeout = replyTimeout
    }
}

/// A small SMTP client on SwiftNIO: one connection per message (notifications are rare, and a
/// fresh connection never inherits a broken state).
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration
    let group: any EventLoopGroup
    let logger: Logger

    public init(configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "millwright.smtp")) {
        self.configuration = configuration; self.group = group; self.logger = logger
    }

    public func send(_ message: EmailMessage) async throws(SMTPError) -> SMTPDeliveryReport {
        try await send(message.envelope)
    }

    public func send(_ envelope: SMTPEnvelope) async throws(SMTPError) -> SMTPDeliveryReport {
        let config = configuration
        let sslContext: NIOSSLContext?
        do {
            sslContext = config.security == .plain ? nil : try NIOSSLContext(configuration: config.tls)
        } catch {
            throw .tls("\(error)")
        }
        let conversation = SMTPConversation(clientName: config.clientName, envelope: envelope,
                                            requireStartTLS: config.security == .startTLS,
                                            implicitTLS: config.security == .implicitTLS,
                                            credentials: config.credentials, allowInsecureAuth: config.allowInsecureAuth)
        let loop = group.next()
        let promise = loop.makePromise(of: SMTPDeliveryReport.self)
        let hostname = config.serverHostname ?? config.host
        let logger = self.logger
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(config.connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if config.security == .implicitTLS, let sslContext {
                        try sync.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: Self.sniName(hostname)))
                    }
                    try sync.addHandler(SMTPChannelHandler(conversation: conversation, promise: promise, sslContext: sslContext,
                                                           serverHostname: hostname, replyTimeout: config.replyTimeout, logger: logger))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: config.host, port: config.port).get()
        } catch {
            promise.fail(SMTPError.connectFailed("\(config.host):\(config.port): \(error)"))
            throw .connectFailed("\(config.host):\(config.port): \(error)")
        }
        do {
            let report = try await promise.futureResult.get()
            return report
        } catch let e as SMTPError {
            channel.close(promise: nil)
            throw e
        } catch {
            channel.close(promise: nil)
            throw .protocolViolation("\(error)")
        }
    }

    /// SNI must not be an IP address (RFC 6066); the certificate check still uses the address.
    static func sniName(_ host: String) -> String? {
        let isIPv4 = host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
        return isIPv4 || host.contains(":") ? nil : host
    }
}

/// Moves bytes between the socket and `SMTPConversation`, installs TLS on request, and enforces
/// the per-reply timeout. All state lives on the channel's event loop.
final class SMTPChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var conversation: SMTPConversation
    private var parser = SMTPReplyParser()
    private let promise: EventLoopPromise<SMTPDeliveryReport>
    private let sslContext: NIOSSLContext?
    private let serverHostname: String
    private let replyTimeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var completed = false
    private let logger: Logger

    init(conversation: SMTPConversation, promise: EventLoopPromise<SMTPDeliveryReport>, sslContext: NIOSSLContext?,
         serverHostname: String, replyTimeout: TimeAmount, logger: Logger) {
        self.conversation = conversation; self.promise = promise; self.sslContext = sslContext
        self.serverHostname = serverHostname; self.replyTimeout = replyTimeout; self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        guard !completed, let bytes = buf.readBytes(length: buf.readableBytes) else { return }
        let replies: [SMTPReply]
        do { replies = try parser.feed(bytes) } catch {
            perform([.fail(error, quit: false)], context: context)
            return
        }
        for (i, r) in replies.enumerated() where !completed {
            logger.trace("S: \(r)")
            let actions = conversation.receive(r)
            // Anything the server sent after its STARTTLS go-ahead arrived in plaintext and could
            // have been injected by a man in the middle (CVE-2011-0411 class): refuse it.
            if actions.contains(.startTLS), i < replies.count - 1 || parser.hasBufferedInput {
                perform([.fail(.protocolViolation("data after the STARTTLS reply, before TLS"), quit: false)], context: context)
                return
            }
            perform(actions, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !completed { perform(conversation.connectionClosed(), context: context) }
        timer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !completed else { return }
        let e: SMTPError = error is NIOSSLError || "\(type(of: error))".contains("BoringSSL") ? .tls("\(error)") : .protocolViolation("\(error)")
        perform([.fail(e, quit: false)], context: context)
    }

    private func armTimer(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: replyTimeout) {
            let (handler, context) = loopBound.value
            guard !handler.completed else { return }
            handler.perform(handler.conversation.timedOut(), context: context)
        }
    }

    private func perform(_ actions: [SMTPConversation.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let bytes):
                if bytes.count < 200 { logger.trace("C: \(String(decoding: bytes.prefix(4), as: UTF8.self) == "AUTH" ? "AUTH …" : String(decoding: bytes, as: UTF8.self))") }
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
                armTimer(context)
            case .startTLS:
                guard let sslContext else { return finish(.failure(.tls("no TLS configuration")), context: context, quit: false) }
                do {
                    let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: SMTPClient.sniName(serverHostname))
                    // In front of everything: bytes from now on are TLS records. Writes issued
                    // before the handshake completes are buffered by the handler.
                    try context.pipeline.syncOperations.addHandler(tls, position: .first)
                } catch {
                    return finish(.failure(.tls("\(error)")), context: context, quit: false)
                }
                perform(conversation.tlsEstablished(), context: context)
            case .finished(let report):
                finish(.success(report), context: context, quit: false)
            case .fail(let error, let quit):
                finish(.failure(error), context: context, quit: quit)
            }
        }
    }

    private func finish(_ result: Result<SMTPDeliveryReport, SMTPError>, context: ChannelHandlerContext, quit: Bool) {
        guard !completed else { return }
        completed = true
        timer?.cancel()
        switch result {
        case .success(let r): promise.succeed(r)
        case .failure(let e): promise.fail(e)
        }
        if quit {
            // Polite goodbye; we do not wait for the answer.
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(string: "QUIT\r\n"))).whenComplete { _ in
                channel.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }
}

extension SMTPConfiguration {
    /// Client TLS that trusts the system roots, or only the CA(s) in `caPEMFile` (plant-internal
    /// relays with their own CA). The server name is always verified.
    public static func tlsConfiguration(caPEMFile: String? = nil) throws(SMTPError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caPEMFile {
            do { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caPEMFile)) } catch {
                throw .tls("cannot read CA file \(caPEMFile): \(error)")
            }
        }
        return tls
    }
}
