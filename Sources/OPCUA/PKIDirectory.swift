import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// The server's certificate store on disk (`opcua.pki_dir`), in the folder layout OPC UA
/// servers commonly use:
///
/// - `own/cert.der` and `private/key.pem`: the server's certificate and RSA-2048 key, made on
///   first start (self-signed, the application URI and the endpoint hosts in the SAN) and
///   reused after;
/// - `trusted/`: the client certificates (DER) an administrator trusts;
/// - `rejected/`: where a refused client certificate is copied, for the administrator to move
///   into `trusted/` (at most ``maxRejected`` files, so a stream of strangers cannot fill a disk).
public struct PKIDirectory: Sendable {
    public let root: URL
    public static let maxRejected = 256
    /// Files in `trusted/` beyond this many, or larger than ``maxCertificateBytes``, are ignored.
    public static let maxTrusted = 4096
    public static let maxCertificateBytes = 64 * 1024

    public var ownCertificate: URL { root.appendingPathComponent("own/cert.der") }
    public var privateKey: URL { root.appendingPathComponent("private/key.pem") }
    public var trusted: URL { root.appendingPathComponent("trusted") }
    public var rejected: URL { root.appendingPathComponent("rejected") }

    public init(path: String) {
        root = URL(fileURLWithPath: path)
    }

    /// Creates the folders, then loads the server's certificate and key, or makes them when
    /// either is missing. `created` tells which.
    public func serverIdentity(applicationUri: String, hosts: [String]) throws -> (identity: ServerIdentity, created: Bool) {
        let fm = FileManager.default
        for dir in ["own", "private", "trusted", "rejected"] {
            try fm.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        if fm.fileExists(atPath: ownCertificate.path), fm.fileExists(atPath: privateKey.path) {
            let der = try Array(Data(contentsOf: ownCertificate))
            let key = try _RSA.Signing.PrivateKey(pemRepresentation: String(contentsOf: privateKey, encoding: .utf8))
            return (try ServerIdentity(certificate: der, privateKey: key), false)
        }
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let der = try Self.selfSigned(key: key, applicationUri: applicationUri, hosts: hosts)
        // The key first, readable by its owner only, so a certificate never exists without it.
        try Data(key.pemRepresentation.utf8).write(to: privateKey, options: .atomic)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: privateKey.path)
        try Data(der).write(to: ownCertificate, options: .atomic)
        return (try ServerIdentity(certificate: der, privateKey: key), true)
    }

    /// A self-signed application instance certificate (Part 6 §6.2.2): valid for 20 years, the
    /// application URI and each host (DNS name or IP address) in the subject alternative name.
    static func selfSigned(key: _RSA.Signing.PrivateKey, applicationUri: String, hosts: [String], now: Date = Date()) throws -> [UInt8] {
        let privateKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName {
            CommonName("Millwright OPC UA server")
            OrganizationName("Millwright")
        }
        var names: [GeneralName] = [.uniformResourceIdentifier(applicationUri)]
        for host in hosts where !host.isEmpty {
            if let ip = ipAddressBytes(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else {
                names.append(.dnsName(host))
            }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, nonRepudiation: true, keyEncipherment: true, dataEncipherment: true, keyCertSign: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: privateKey.publicKey)
        }
        let certificate = try Certificate(version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: privateKey.publicKey,
                                          notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(20 * 365 * 86400),
                                          issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption, extensions: extensions,
                                          issuerPrivateKey: privateKey)
        return try certificate.derBytes
    }

    /// The four bytes of a dotted IPv4 address, or the sixteen of an IPv6 one.
    static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Whether a client certificate may open a channel: it must be in `trusted/` (the same DER
    /// bytes) and within its validity period. A refused one is copied to `rejected/`.
    public func trust(_ peer: PeerCertificate, now: Date = Date()) -> TransportError? {
        guard isTrusted(peer) else {
            reject(peer)
            return TransportError(.badSecurityChecksFailed,
                                  "the client certificate is not trusted; it was copied to \(rejected.path) for an administrator to move to trusted/")
        }
        guard peer.certificate.notValidBefore <= now, now <= peer.certificate.notValidAfter else {
            return TransportError(.badCertificateTimeInvalid, "the client certificate is outside its validity period")
        }
        return nil
    }

    private func isTrusted(_ peer: PeerCertificate) -> Bool {
        let files = (try? FileManager.default.contentsOfDirectory(at: trusted, includingPropertiesForKeys: [.fileSizeKey])) ?? []
        for file in files.prefix(Self.maxTrusted) {
            guard let size = try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize, size <= Self.maxCertificateBytes,
                  let bytes = try? Data(contentsOf: file) else { continue }
            if Array(bytes) == peer.der { return true }
        }
        return false
    }

    /// Copies the certificate to `rejected/<thumbprint>.der`, unless it is there already or
    /// the folder is full.
    private func reject(_ peer: PeerCertificate) {
        let name = peer.thumbprint.map { String(format: "%02x", $0) }.joined() + ".der"
        let target = rejected.appendingPathComponent(name)
        let fm = FileManager.default
        guard !fm.fileExists(atPath: target.path) else { return }
        let held = (try? fm.contentsOfDirectory(atPath: rejected.path).count) ?? 0
        guard held < Self.maxRejected else { return }
        try? Data(peer.der).write(to: target, options: .atomic)
    }
}
