import Foundation

/// A throw-away certificate authority made with the `openssl` CLI: a server certificate for
/// 127.0.0.1/localhost and client certificates, all PEM files in `dir`.
public struct TestPKI {
    public let dir: String
    public var caCert: String { dir + "/ca.pem" }
    public var serverCert: String { dir + "/server.pem" }
    public var serverKey: String { dir + "/server.key" }

    public init(in dir: String, name: String = "ca") throws {
        self.dir = dir + "/\(name)"
        try FileManager.default.createDirectory(atPath: self.dir, withIntermediateDirectories: true)
        try openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
                     "-out", "ca.pem", "-days", "2", "-subj", "/CN=Millwright test CA \(name)",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        try issue("server", extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    }

    /// A client certificate signed by this CA; returns (cert, key) paths.
    public func client(_ name: String) throws -> (cert: String, key: String) {
        try issue(name, extensions: "extendedKeyUsage=clientAuth\n")
        return (dir + "/\(name).pem", dir + "/\(name).key")
    }

    private func issue(_ name: String, extensions: String) throws {
        try ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" + extensions)
            .write(toFile: dir + "/\(name).ext", atomically: true, encoding: .utf8)
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(name).key",
                     "-out", "\(name).csr", "-subj", "/CN=\(name)"])
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "\(UInt32.random(in: 1...UInt32.max))",
                     "-days", "2", "-extfile", "\(name).ext", "-out", "\(name).pem"])
    }

    private func openssl(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["openssl"] + args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let output = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw HarnessError.exited("openssl \(args.joined(separator: " "))", p.terminationStatus, String(decoding: output, as: UTF8.self))
        }
    }
}
