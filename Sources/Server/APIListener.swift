import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MillwrightCore
import NIOCore

/// The one place the API's HTTP server is put together, for `serve` and `demo --keep-running`:
/// HTTP/1.1 or HTTPS (optionally mutual TLS), the connection limit and the header and idle timeouts.
public enum APIListener {
    public static func application(router: Hummingbird.Router<MillwrightContext>, settings: ServerSettings, logger: Logger,
                                   onServerRunning: @escaping @Sendable (any Channel) async -> Void) throws -> some ApplicationProtocol {
        let tls = try settings.tls.map(ServerTLS.configuration)
        if let warning = plainHTTPWarning(settings) {
            logger.warning("\(warning)")
            FileHandle.standardError.write(Data("millwright: warning: \(warning)\n".utf8))
        }
        let counter = ConnectionCounter(limit: settings.maxConnections)
        let headerTimeout = TimeAmount(settings.headerTimeout)
        let http1 = HTTP1Channel.Configuration(idleTimeout: TimeAmount(settings.idleTimeout))
        let server = HTTPServerBuilder { responder in
            let channel = GuardedHTTP1Channel(base: HTTP1Channel(responder: responder, configuration: http1)) {
                ConnectionGuard(counter: counter, headerTimeout: headerTimeout, logger: logger)
            }
            guard let tls else { return channel }
            return try TLSChannel(channel, tlsConfiguration: tls)
        }
        return Application(router: router, server: server,
                           configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "millwright"),
                           onServerRunning: onServerRunning, logger: logger)
    }

    /// Said at start when API keys would cross the network in clear.
    static func plainHTTPWarning(_ settings: ServerSettings) -> String? {
        guard settings.tls == nil, !isLoopback(settings.host) else { return nil }
        return "the API serves plain HTTP on \(settings.host), beyond loopback: API keys cross the network in clear; configure server.tls"
    }

    static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        guard let address = try? SocketAddress(ipAddress: host, port: 0) else { return false }
        switch address {
        case .v4: return address.ipAddress?.hasPrefix("127.") == true
        case .v6: return address.ipAddress == "::1"
        default: return false
        }
    }
}
