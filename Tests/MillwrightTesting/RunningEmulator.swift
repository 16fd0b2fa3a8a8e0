import Emulators
import Foundation
import Hummingbird

/// An emulator running in-process on a free port.
public struct RunningEmulator: Sendable {
    public let state: EmulatorState
    public let baseURL: String
    public let server: Task<Void, Error>

    public static func start(options: EmulatorOptions = EmulatorOptions(), _ makeRouter: (EmulatorState) -> Hummingbird.Router<BasicRequestContext>) async throws -> RunningEmulator {
        let state = EmulatorState(options: options)
        let port = PortBox()
        let app = Application(router: makeRouter(state), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { port.set($0.localAddress?.port ?? 0) })
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        return RunningEmulator(state: state, baseURL: "http://127.0.0.1:\(try await port.wait())", server: server)
    }

    public func stop() { server.cancel() }
}

/// The port a test server bound.
public final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    public init() {}
    public func set(_ p: Int) { lock.withLock { port = p } }
    public func wait() async throws -> Int {
        for _ in 0..<500 {
            if let p = lock.withLock({ port }) { return p }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CancellationError()
    }
}
