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
    fileprivate let security: SecurityOffer

    private struct State {
        var channel: (any Channel)?
        var nextChannelId: UInt32 = 1
        var connections = 0
        var ticks: RepeatedTask?
    }

    /// The open connections by secure channel id, for responses sent later than their turn.
    private let connections = NIOLockedValueBox([UInt32: ConnectionHandler]())

    /// `security` is what the channels accept; `core.offeredSecurity` what sessions may run under.
    public init(core: ServerCore, security: SecurityOffer = SecurityOffer(), limits: OPCUAServerLimits = OPCUAServerLimits(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, onEffect: @escaping @Sendable (ServerCore.Effect) -> Void = { _ in }) {
        self.core = NIOLockedValueBox(core)
        self.security = security
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
        // Session timeouts and subscriptions' publishing intervals (at least 100 ms) run on this clock.
        let ticks = channel.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(50), delay: .milliseconds(50)) { [self] _ in
            deliver(core.withLockedValue { $0.tick(at: .now()) })
        }
        state.withLockedValue {
            $0.channel = channel
            $0.ticks = ticks
        }
        return channel
    }

    /// Stops accepting, closes the listener and every open connection.
    public func stop() async {
        let (channel, ticks) = state.withLockedValue { s in
            defer { s.channel = nil; s.ticks = nil }
            return (s.channel, s.ticks)
        }
        ticks?.cancel()
        try? await channel?.close()
        for handler in connections.withLockedValue({ Array($0.values) }) { handler.closeFromServer() }
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

    fileprivate func handle(_ body: ByteBuffer, channelId: UInt32, requestId: UInt32, security: ChannelSecurity) -> ServerCore.Handled {
        let handled = core.withLockedValue { $0.handle(body, channelId: channelId, requestId: requestId, security: security, at: .now()) }
        for effect in handled.effects { onEffect(effect) }
        deliver(handled.deferred)
        return handled
    }

    /// Hands each response to its connection's event loop; one whose connection is gone is dropped.
    private func deliver(_ responses: [DeferredResponse]) {
        guard !responses.isEmpty else { return }
        let open = connections.withLockedValue { $0 }
        for r in responses { open[r.channelId]?.sendLater(requestId: r.requestId, response: r.response) }
    }

    fileprivate func opened(_ handler: ConnectionHandler, channelId: UInt32) {
        connections.withLockedValue { $0[channelId] = handler }
    }

    fileprivate func closed(channelId: UInt32) {
        connections.withLockedValue { $0[channelId] = nil }
        core.withLockedValue { $0.channelClosed(channelId) }
    }
}

/// One connection: bytes to its ``SecureChannel``, requests to the server, answers back.
private final class ConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let server: OPCUAServer
    private var secureChannel: SecureChannel<ServerChunkSecurity>
    private let helloTimeout: TimeAmount
    private var helloDeadline: Scheduled<Void>?
    /// Set while the handler is in the pipeline; used only on its event loop.
    private var context: ChannelHandlerContext?
    private var eventLoop: (any EventLoop)?

    init(server: OPCUAServer, channelId: UInt32, limits: OPCUAServerLimits) {
        self.server = server
        self.secureChannel = SecureChannel(channelId: channelId, security: ServerChunkSecurity(offer: server.security), configuration: limits.channel)
        self.helloTimeout = limits.helloTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        eventLoop = context.eventLoop
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// A response decided outside this connection's reads (a Publish answer), from any thread.
    func sendLater(requestId: UInt32, response: ByteBuffer) {
        eventLoop?.execute { [self] in
            guard let context else { return }
            send(requestId: requestId, response: response, header: nil, context: context)
            context.flush()
        }
    }

    /// The server is stopping: an Error (BadServerHalted) and the end of the connection.
    func closeFromServer() {
        eventLoop?.execute { [self] in
            guard let context else { return }
            perform(secureChannel.fail(TransportError(.badServerHalted, "the server is stopping")), context: context)
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        server.opened(self, channelId: secureChannel.channelId)
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
        server.closed(channelId: secureChannel.channelId)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let outputs = secureChannel.receive(unwrapInboundIn(data), at: .now())
        perform(outputs, context: context)
    }

    private func perform(_ outputs: [SecureChannel<ServerChunkSecurity>.Output], context: ChannelHandlerContext) {
        for output in outputs {
            switch output {
            case .send(let bytes):
                context.write(wrapOutboundOut(bytes), promise: nil)
            case .request(let requestId, let body):
                let handled = server.handle(body, channelId: secureChannel.channelId, requestId: requestId, security: secureChannel.security.context)
                // A Publish request waits for its subscription's news.
                guard let response = handled.response else { continue }
                guard send(requestId: requestId, response: response, header: handled.header, context: context) else { return }
            case .close:
                context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
                return
            }
        }
        context.flush()
    }

    /// Writes a response; when it is too large for the client's limits, a ServiceFault says so
    /// instead (Part 6 §6.7.2). False when the channel had to be failed.
    @discardableResult
    private func send(requestId: UInt32, response: ByteBuffer, header: RequestHeader?, context: ChannelHandlerContext) -> Bool {
        guard secureChannel.state == .open else { return false }
        do {
            for chunk in try secureChannel.respond(to: requestId, with: response) { context.write(wrapOutboundOut(chunk), promise: nil) }
            return true
        } catch let error as TransportError {
            let fault = (try? ServiceFault(answering: header ?? RequestHeader(requestHandle: 0), at: Moment.now().wall, error.status).encodedMessage())
            if let fault, let chunks = try? secureChannel.respond(to: requestId, with: fault) {
                for chunk in chunks { context.write(wrapOutboundOut(chunk), promise: nil) }
                return true
            }
            perform(secureChannel.fail(error), context: context)
            return false
        } catch {
            perform(secureChannel.fail(error), context: context)
            return false
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
