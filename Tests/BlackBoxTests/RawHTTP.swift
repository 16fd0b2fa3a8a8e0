import Foundation
import NIOCore
import NIOPosix
import MillwrightTesting

/// A bare TCP connection to the server, for what an HTTP client library will not do on
/// purpose: stop half-way through a request head, hold a connection idle, stream a body.
final class RawConnection {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
        var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending: [UInt8] = []

    private init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects to 127.0.0.1:`port`; the connection is closed when `body` returns.
    static func with<T>(port: Int, _ body: (RawConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawConnection(inbound: inbound, outbound: outbound))
        }
    }

    /// `count` connections open at once.
    static func with<T>(count: Int, port: Int, _ body: ([RawConnection]) async throws -> T) async throws -> T {
        guard count > 0 else { return try await body([]) }
        return try await with(port: port) { first in
            try await with(count: count - 1, port: port) { rest in try await body([first] + rest) }
        }
    }

    func send(_ text: String) async throws { try await outbound.write(ByteBuffer(string: text)) }
    func send(_ bytes: ByteBuffer) async throws { try await outbound.write(bytes) }

    /// One response with a Content-Length body.
    func response() async throws -> Response {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            headEnd = pending.indices.dropLast(3).first { Array(pending[$0..<$0 + 4]) == separator }
            if headEnd == nil { try await readMore() }
        }
        let lines = String(decoding: pending[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        let bodyStart = headEnd! + 4
        while pending.count < bodyStart + length { try await readMore() }
        let body = Data(pending[bodyStart..<bodyStart + length])
        pending.removeFirst(bodyStart + length)
        return Response(status: status, headers: headers, body: body)
    }

    /// Returns once the server has closed the connection (end of stream or a reset).
    func closedByServer() async {
        do {
            while try await inbound.next() != nil {}
        } catch {}
    }

    private func readMore() async throws {
        guard let buffer = try await inbound.next() else { throw HarnessError.http(0, "connection closed after: \(String(decoding: pending, as: UTF8.self))") }
        pending += buffer.readableBytesView
    }
}
