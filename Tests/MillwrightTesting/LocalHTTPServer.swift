import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// A Hummingbird app on a free loopback port in this process, stopped by a graceful shutdown.
/// Cancelling its task instead traps inside NIO when a connection is being accepted at that
/// moment ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2637).
public struct LocalHTTPServer: Sendable {
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, Error>

    public static func start<Responder: HTTPResponderBuilder>(_ router: Responder) async throws -> LocalHTTPServer
    where Responder.Responder.Context: RequestContext, Responder.Responder.Context.Source == ApplicationRequestContextSource {
        let bound = PortBox()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { bound.set($0.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: Logger(label: "test-server")))
        let task = Task { try await group.run() }
        return LocalHTTPServer(port: try await bound.wait(), group: group, task: task)
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts the graceful shutdown and returns; the server finishes its requests and closes.
    public func stop() {
        let group = group
        Task { await group.triggerGracefulShutdown() }
    }
}

/// The port a test server bound.
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    func set(_ p: Int) { lock.withLock { port = p } }
    func wait() async throws -> Int {
        for _ in 0..<500 {
            if let p = lock.withLock({ port }) { return p }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }
}
