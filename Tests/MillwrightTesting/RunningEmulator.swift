import Emulators
import Foundation
import Hummingbird

/// An emulator running in-process on a free port.
public struct RunningEmulator: Sendable {
    public let state: EmulatorState
    public let baseURL: String
    let server: LocalHTTPServer

    public static func start(options: EmulatorOptions = EmulatorOptions(), _ makeRouter: (EmulatorState) -> Hummingbird.Router<BasicRequestContext>) async throws -> RunningEmulator {
        let state = EmulatorState(options: options)
        let server = try await LocalHTTPServer.start(makeRouter(state))
        return RunningEmulator(state: state, baseURL: server.baseURL, server: server)
    }

    public func stop() { server.stop() }
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
