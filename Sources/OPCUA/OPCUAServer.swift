import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

extension Moment {
    /// Now, by the monotonic clock and the wall clock.
    public static func now() -> Moment {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Moment(monotonic: .now(), wall: DateTime(unixNanoseconds: Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)))
    }
}

/// Where the vendored NodeSet2 files are: the SwiftPM resource bundle `Millwright_OPCUA.resources`,
/// which `swift build` puts next to the executable. An installed `millwright` needs that
/// folder copied next to it (docs/opcua.md).
public enum NodeSetFiles {
    public static let bundleName = "Millwright_OPCUA.resources"
    public static let namespaceZero = "Opc.Ua.NodeSet2.xml"
    public static let machineVision = "Opc.Ua.MachineVision.NodeSet2.xml"

    /// The folder holding both files, looked for next to the running executable (symlinks
    /// resolved) and, for test runners, next to their bundle.
    public static func locate() throws -> URL {
        var candidates: [URL] = []
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        candidates.append(executable.deletingLastPathComponent().appendingPathComponent(bundleName))
        candidates.append(Bundle.main.bundleURL.appendingPathComponent(bundleName))
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(bundleName))
        for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent(namespaceZero).path) { return c }
        throw NodeSetError(file: namespaceZero, line: 0,
                           message: "not found in \(candidates.map(\.path).joined(separator: ", ")); copy \(bundleName) next to the millwright binary")
    }

    /// Namespace 0 and the Machine Vision model, loaded from `folder`.
    public static func standardAddressSpace(in folder: URL) throws -> AddressSpace {
        var space = AddressSpace()
        try space.load(nodeSet: folder.appendingPathComponent(namespaceZero))
        try space.load(nodeSet: folder.appendingPathComponent(machineVision))
        return space
    }
}

/// Bounds of the listener.
public struct OPCUAServerLimits: Sendable {
    public var maxConnections = 64
    /// A connection that has not said Hello by then is closed.
    public var helloTimeout: TimeAmount = .seconds(10)
    public var channel = SecureChannelConfiguration()

    public init() {}
}

/// The UA-TCP listener (Part 6 §7): one ``SecureChannel`` per connection on SwiftNIO, one
/// ``ServerCore`` shared by all behind a lock. A connection that sends something malformed gets
/// an Error message and is closed; the others do not notice.
public final class OPCUAServer: Sendable {
    private let core: NIOLockedValueBox<ServerCore>
    private let state = NIOLockedValueBox(State())
    private let limits: OPCUAServerLimits
    private let group: any EventLoopGroup
    private let onEffect: @Sendable (ServerCore.Effect) -> Void

    private struct State {
        var channel: (any Channel)?
        var nextChannelId: UInt32 = 1
        var connections = 0
        var expiry: RepeatedTask?
    }

    public init(core: ServerCore, limits: OPCUAServerLimits = OPCUAServerLimits(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                onEffect: @escaping @Sendable (ServerCore.Effect) -> Void = { _ in }) {
        self.core = NIOLockedValueBox(core)
        self.limits = limits
        self.group = group
        self.onEffect = onEffect
    }

    /// Reads or changes the shared state (RejectPart, the address space) under the lock.
    public func withCore<T>(_ body: (inout ServerCore) throws -> T) rethrows -> T {
        try core.withLockedValue { try body(&$0) }
    }

    /// Binds and starts accepting; returns the bound channel (its port when 0 was asked for).
    /// `endpointHost` is the host name clients are told to use.
    public func start(host: String, port: Int, endpointHost: String) async throws -> any Channel {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                guard let id = admit() else {
                    // Over the connection limit: say so and go.
                    let refusal = try? TransportMessage.error(ErrorMessage(error: .badTcpServerTooBusy, reason: "too many connections")).encoded()
                    if let refusal { channel.writeAndFlush(refusal, promise: nil) }
                    return channel.close()
                }
                channel.closeFuture.whenComplete { [self] _ in state.withLockedValue { $0.connections -= 1 } }
                return channel.pipeline.addHandler(ConnectionHandler(server: self, channelId: id, limits: limits))
            }
            .bind(host: host, port: port).get()
        let bound = channel.localAddress?.port ?? port
        core.withLockedValue { $0.description.endpointUrl = "opc.tcp://\(endpointHost):\(bound)" }
        let expiry = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [core] _ in
            core.withLockedValue { _ = $0.expireSessions(at: .now()) }
        }
        state.withLockedValue {
            $0.channel = channel
            $0.expiry = expiry
        }
        return channel
    }

    /// Stops accepting and closes the listener (open connections close with their event loop).
    public func stop() async {
        let (channel, expiry) = state.withLockedValue { s in
            defer { s.channel = nil; s.expiry = nil }
            return (s.channel, s.expiry)
        }
        expiry?.cancel()
        try? await channel?.close()
    }

    private func admit() -> UInt32? {
        state.withLockedValue { s in
            guard s.connections < limits.maxConnections else { return nil }
            s.connections += 1
            let id = s.nextChannelId
            s.nextChannelId = s.nextChannelId == .max ? 1 : s.nextChannelId + 1
            return id
        }
    }

    fileprivate func handle(_ body: ByteBuffer, channelId: UInt32) -> ServerCore.Handled {
        let handled = core.withLockedValue { $0.handle(body, channelId: channelId, at: .now()) }
        for effect in handled.effects { onEffect(effect) }
        return handled
    }
}

/// One connection: bytes to its ``SecureChannel``, requests to the server, answers back.
private final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: OPCUAServer
    private var secureChannel: SecureChannel<SecurityPolicyNone>
    private let helloTimeout: TimeAmount
    private var helloDeadline: Scheduled<Void>?

    init(server: OPCUAServer, channelId: UInt32, limits: OPCUAServerLimits) {
        self.server = server
        self.secureChannel = SecureChannel(channelId: channelId, security: SecurityPolicyNone(), configuration: limits.channel)
        self.helloTimeout = limits.helloTimeout
    }

    func channelActive(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        helloDeadline = context.eventLoop.scheduleTask(in: helloTimeout) {
            let (handler, context) = loopBound.value
            guard handler.secureChannel.state == .awaitingHello else { return }
            handler.perform(handler.secureChannel.fail(TransportError(.badTimeout, "no Hello within \(handler.helloTimeout)")), context: context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        helloDeadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let outputs = secureChannel.receive(unwrapInboundIn(data), at: .now())
        perform(outputs, context: context)
    }

    private func perform(_ outputs: [SecureChannel<SecurityPolicyNone>.Output], context: ChannelHandlerContext) {
        for output in outputs {
            switch output {
            case .send(let bytes):
                context.write(wrapOutboundOut(bytes), promise: nil)
            case .request(let requestId, let body):
                let handled = server.handle(body, channelId: secureChannel.channelId)
                do {
                    for chunk in try secureChannel.respond(to: requestId, with: handled.response) { context.write(wrapOutboundOut(chunk), promise: nil) }
                } catch let error as TransportError {
                    // Too large for the client's limits: a ServiceFault says so instead (Part 6 §6.7.2).
                    let fault = (try? ServiceFault(answering: handled.header, at: Moment.now().wall, error.status).encodedMessage()) ?? ByteBuffer()
                    if let chunks = try? secureChannel.respond(to: requestId, with: fault) {
                        for chunk in chunks { context.write(wrapOutboundOut(chunk), promise: nil) }
                    } else {
                        perform(secureChannel.fail(error), context: context)
                        return
                    }
                } catch {
                    perform(secureChannel.fail(error), context: context)
                    return
                }
            case .close:
                context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
                return
            }
        }
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
