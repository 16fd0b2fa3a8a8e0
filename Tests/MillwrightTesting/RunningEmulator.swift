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
