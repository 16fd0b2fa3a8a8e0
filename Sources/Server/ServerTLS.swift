import MillwrightCore
import NIOSSL

/// `server.tls` as a NIOSSL server configuration. With `client_ca`, a client certificate is
/// required and must chain to that CA (no hostname check: clients have no name to match).
enum ServerTLS {
    struct LoadError: Error, CustomStringConvertible {
        var key: String
        var file: String
        var underlying: any Error
        var description: String { "server.tls.\(key): \(file): \(underlying)" }
    }

    static func configuration(_ tls: ServerTLSSettings) throws -> TLSConfiguration {
        let chain = try load("cert", tls.certFile) { try NIOSSLCertificate.fromPEMFile($0) }
        let key = try load("key", tls.keyFile) { try NIOSSLPrivateKey(file: $0, format: .pem) }
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        config.minimumTLSVersion = .tlsv12
        config.applicationProtocols = ["http/1.1"]
        if let caFile = tls.clientCAFile {
            let roots = try load("client_ca", caFile) { try NIOSSLCertificate.fromPEMFile($0) }
            config.certificateVerification = .noHostnameVerification
            config.trustRoots = .certificates(roots)
            // Lets clients holding several certificates pick the one this server trusts.
            config.sendCANameList = true
        }
        // NIOSSL checks that the key belongs to the certificate only when it makes a context.
        _ = try load("key", tls.keyFile) { _ in try NIOSSLContext(configuration: config) }
        return config
    }

    private static func load<T>(_ key: String, _ file: String, _ body: (String) throws -> T) throws -> T {
        do { return try body(file) } catch { throw LoadError(key: key, file: file, underlying: error) }
    }
}
