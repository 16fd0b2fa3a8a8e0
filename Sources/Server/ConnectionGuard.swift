import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Open connections of one listener, shared by every connection's `ConnectionGuard`.
final class ConnectionCounter: Sendable {
    let limit: Int
    private let open = NIOLockedValueBox(0)

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection; false when it is past the limit.
    func admit() -> Bool { open.withLockedValue { $0 += 1; return $0 <= limit } }
    func release() { open.withLockedValue { $0 -= 1 } }
}

/// Sits right after the HTTP/1 decoder of every connection (so behind TLS when there is TLS):
/// - closes a connection that has not delivered a complete request head within the header
///   timeout of being accepted (a half-open or slowloris connection holds a socket and a task);
/// - answers a connection past `server.max_connections` with a 503 problem document on its
///   first request, and closes it, instead of letting it queue unseen in the backlog.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let counter: ConnectionCounter
    private let headerTimeout: TimeAmount
    private let logger: Logger
    private var admitted = true
    private var headerDeadline: Scheduled<Void>?

    init(counter: ConnectionCounter, headerTimeout: TimeAmount, logger: Logger) {
        self.counter = counter
        self.headerTimeout = headerTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = counter.admit()
        let counter = self.counter
        context.channel.closeFuture.whenComplete { _ in counter.release() }
        let timeout = headerTimeout, logger = self.logger
        headerDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            logger.debug("closing a connection that sent no complete request head", metadata: ["timeout": "\(timeout)"])
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        headerDeadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            headerDeadline?.cancel()
            headerDeadline = nil
            if !admitted { return refuse(context: context, head: head) }
        }
        // Once refused, the rest of that request is dropped: it will never be answered.
        if admitted { context.fireChannelRead(data) }
    }

    private func refuse(context: ChannelHandlerContext, head: HTTPRequestHead) {
        logger.warning("refusing a connection past server.max_connections", metadata: ["max_connections": "\(counter.limit)"])
        var problem = Problem(.serviceUnavailable, type: "too-many-connections",
                              detail: "the server already has \(counter.limit) open connections (server.max_connections); retry shortly")
        problem.instance = String(head.uri.prefix { $0 != "?" })
        let requestId = head.headers.first(name: "X-Request-Id").flatMap { $0.count <= 128 ? $0 : nil } ?? UUID().uuidString.lowercased()
        problem.requestId = requestId
        let body = problem.json
        let headers = HTTPHeaders([("Content-Type", "application/problem+json"), ("Content-Length", "\(body.count)"),
                                   ("Retry-After", "1"), ("Connection", "close"), ("X-Request-Id", requestId)])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .serviceUnavailable, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
