import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A loopback HTTP/1 server that records every request and answers by path: `/fail…` 500 with
/// a body, `/redirect…` 302 to another host, `/silent…` never, anything else 200. It records
/// before it answers, so once the client has its answer the request is here: no waiting.
final class WebhookReceiver: Sendable {
    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var headers: HTTPHeaders
        var body: [UInt8]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    }

    private let channel: any Channel
    private let box: NIOLockedValueBox<[Request]>
    let port: Int

    init() async throws {
        let box = NIOLockedValueBox<[Request]>([])
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    try child.pipeline.syncOperations.addHandler(Handler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.box = box
        self.port = channel.localAddress?.port ?? 0
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
    var requests: [Request] { box.withLockedValue { $0 } }
    func close() async { try? await channel.close() }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let box: NIOLockedValueBox<[Request]>
        var head: HTTPRequestHead?
        var body: [UInt8] = []
        init(box: NIOLockedValueBox<[Request]>) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h; body = []
            case .body(var b): body += b.readBytes(length: b.readableBytes) ?? []
            case .end:
                guard let head else { return }
                box.withLockedValue { $0.append(Request(method: head.method, uri: head.uri, headers: head.headers, body: body)) }
                if head.uri.hasPrefix("/silent") { return }
                var headers = HTTPHeaders([("Content-Length", "0")])
                var status = HTTPResponseStatus.ok
                var text = ""
                if head.uri.hasPrefix("/fail") { status = .internalServerError; text = "boom: receiver is down" }
                if head.uri.hasPrefix("/redirect") { status = .found; headers.add(name: "Location", value: "http://127.0.0.2:1/capture/secret-path") }
                headers.replaceOrAdd(name: "Content-Length", value: String(text.utf8.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                if !text.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: text)))), promise: nil) }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
