import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// The security policies of this server (Part 7 profiles) and the constants of their algorithms.
/// Basic256Sha256 and Aes128_Sha256_RsaOaep differ only in the AES key length: both sign with
/// RSA PKCS#1 v1.5 SHA-256, encrypt asymmetrically with RSA-OAEP (SHA-1), derive keys with
/// P_SHA256 and secure MSG chunks with HMAC-SHA256 and AES-CBC.
public enum SecurityPolicy: String, Hashable, Sendable, CaseIterable {
    case none = "http://opcfoundation.org/UA/SecurityPolicy#None"
    case basic256Sha256 = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    case aes128Sha256RsaOaep = "http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep"

    public var uri: String { rawValue }

    /// Bytes of the AES key each side derives.
    var encryptionKeyLength: Int { self == .aes128Sha256RsaOaep ? 16 : 32 }
    static let signingKeyLength = 32
    static let symmetricSignatureLength = 32
    static let blockSize = 16
    static let nonceLength = 32
    /// Part 7: both policies take RSA keys of 2048 to 4096 bits.
    static let rsaKeyBits = 2048...4096
    /// The URIs of SignatureData and of an encrypted UserName password (Part 4 §7.37, §7.41.4).
    public static let asymmetricSignatureURI = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    public static let asymmetricEncryptionURI = "http://www.w3.org/2001/04/xmlenc#rsa-oaep"
    /// RSA-OAEP with SHA-1 takes 42 bytes of each block for itself.
    static let oaepOverhead = 42
}

/// A failure of a security check: the channel ends with this status (BadSecurityChecksFailed
/// unless a more precise one applies). The reason goes to the log and the Error message.
func securityFailure(_ reason: String, _ status: StatusCode = .badSecurityChecksFailed) -> TransportError {
    TransportError(status, reason)
}

/// P_SHA256 (RFC 5246 §5, Part 6 §6.7.5): `count` bytes from HMAC-SHA256 chained over `seed`.
public func pSHA256(secret: [UInt8], seed: [UInt8], count: Int) -> [UInt8] {
    let key = SymmetricKey(data: secret)
    var out: [UInt8] = []
    out.reserveCapacity(count + 32)
    var a = seed
    while out.count < count {
        a = Array(HMAC<SHA256>.authenticationCode(for: a, using: key))
        out += HMAC<SHA256>.authenticationCode(for: a + seed, using: key)
    }
    return Array(out.prefix(count))
}

/// The keys one side of a token secures its MSG and CLO chunks with (Part 6 §6.7.5).
public struct SymmetricKeys: Hashable, Sendable {
    public var signingKey: [UInt8]
    public var encryptionKey: [UInt8]
    public var iv: [UInt8]

    /// The sender's keys: a client's from (secret serverNonce, seed clientNonce), a server's from
    /// (secret clientNonce, seed serverNonce).
    public init(policy: SecurityPolicy, secret: [UInt8], seed: [UInt8]) {
        let lengths = (SecurityPolicy.signingKeyLength, policy.encryptionKeyLength, SecurityPolicy.blockSize)
        let bytes = pSHA256(secret: secret, seed: seed, count: lengths.0 + lengths.1 + lengths.2)
        signingKey = Array(bytes[0..<lengths.0])
        encryptionKey = Array(bytes[lengths.0..<lengths.0 + lengths.1])
        iv = Array(bytes[(lengths.0 + lengths.1)...])
    }

    func sign(_ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: signingKey)))
    }

    func verify(_ signature: [UInt8], over data: [UInt8]) -> Bool {
        constantTimeEqual(sign(data), signature)
    }

    /// AES-CBC over whole blocks: the chunk carries its own padding.
    func encrypt(_ data: [UInt8]) throws -> [UInt8] {
        Array(try AES._CBC.encrypt(data, using: SymmetricKey(data: encryptionKey), iv: try AES._CBC.IV(ivBytes: iv), noPadding: true))
    }

    func decrypt(_ data: [UInt8]) throws -> [UInt8] {
        Array(try AES._CBC.decrypt(data, using: SymmetricKey(data: encryptionKey), iv: try AES._CBC.IV(ivBytes: iv), noPadding: true))
    }
}

/// The server's RSA key and its certificate, as the secured policies use them.
public struct ServerIdentity: Sendable {
    public let certificate: [UInt8]
    /// SHA-1 of the certificate, which clients name as the receiver of an OPN message.
    public let thumbprint: [UInt8]
    let signingKey: _RSA.Signing.PrivateKey
    /// CryptoExtras' encryption keys are not Sendable: the key is rebuilt for the rare decryption
    /// (an OPN chunk, a password).
    private let privateKeyDER: [UInt8]

    public init(certificate: [UInt8], privateKeyDER: [UInt8]) throws {
        signingKey = try _RSA.Signing.PrivateKey(derRepresentation: privateKeyDER)
        self.privateKeyDER = privateKeyDER
        self.certificate = certificate
        thumbprint = Array(Insecure.SHA1.hash(data: certificate))
    }

    public init(certificate: [UInt8], privateKey: _RSA.Signing.PrivateKey) throws {
        try self.init(certificate: certificate, privateKeyDER: Array(privateKey.derRepresentation))
    }

    var keyBytes: Int { signingKey.keySizeInBits / 8 }

    /// RSA PKCS#1 v1.5 over SHA-256 (AsymmetricSignatureAlgorithm of both policies).
    public func sign(_ data: [UInt8]) throws -> [UInt8] {
        Array(try signingKey.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation)
    }

    /// RSA-OAEP (SHA-1), block by block; the input must be whole blocks of the key's size.
    public func decrypt(_ data: [UInt8]) throws -> [UInt8] {
        guard !data.isEmpty, data.count % keyBytes == 0 else {
            throw securityFailure("\(data.count) encrypted bytes are not whole blocks of \(keyBytes)")
        }
        let decryptionKey = try _RSA.Encryption.PrivateKey(derRepresentation: privateKeyDER)
        var out: [UInt8] = []
        out.reserveCapacity(data.count)
        for start in stride(from: 0, to: data.count, by: keyBytes) {
            do {
                out += try decryptionKey.decrypt(data[start..<start + keyBytes], padding: .PKCS1_OAEP)
            } catch {
                throw securityFailure("an RSA-OAEP block does not decrypt with the server's key")
            }
        }
        return out
    }
}

/// A peer's certificate: the first of the chain it sent, which must carry an RSA key of
/// 2048–4096 bits.
public struct PeerCertificate: Hashable, Sendable {
    public let der: [UInt8]
    public let thumbprint: [UInt8]
    public let certificate: Certificate
    let verifyKey: _RSA.Signing.PublicKey

    public static func == (a: PeerCertificate, b: PeerCertificate) -> Bool { a.der == b.der }
    public func hash(into h: inout Hasher) { h.combine(der) }

    /// Parses the first certificate of `chain` (DER certificates one after the other).
    public init(chain: [UInt8]) throws {
        let first = try Self.firstCertificate(of: chain)
        let certificate: Certificate
        do { certificate = try Certificate(derEncoded: first) } catch {
            throw securityFailure("the sender certificate is not an X.509 certificate", .badCertificateInvalid)
        }
        guard let rsa = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw securityFailure("the sender certificate's key is not RSA", .badCertificateInvalid)
        }
        guard SecurityPolicy.rsaKeyBits.contains(rsa.keySizeInBits) else {
            throw securityFailure("the sender certificate's key has \(rsa.keySizeInBits) bits; the policy needs 2048–4096", .badCertificateInvalid)
        }
        self.der = first
        self.thumbprint = Array(Insecure.SHA1.hash(data: first))
        self.certificate = certificate
        self.verifyKey = rsa
    }

    var keyBytes: Int { verifyKey.keySizeInBits / 8 }

    public func verify(_ signature: [UInt8], over data: [UInt8]) -> Bool {
        signature.count == keyBytes && verifyKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: data,
                                                                    padding: .insecurePKCS1v1_5)
    }

    /// RSA-OAEP (SHA-1) in blocks of the key's size less 42 bytes.
    public func encrypt(_ data: [UInt8]) throws -> [UInt8] {
        let encryptionKey = try _RSA.Encryption.PublicKey(derRepresentation: verifyKey.derRepresentation)
        let plainBlock = keyBytes - SecurityPolicy.oaepOverhead
        var out: [UInt8] = []
        for start in stride(from: 0, to: data.count, by: plainBlock) {
            out += try encryptionKey.encrypt(data[start..<min(start + plainBlock, data.count)], padding: .PKCS1_OAEP)
        }
        return out
    }

    /// The leading DER SEQUENCE of `chain`, by its length octets (at most 4 of them).
    static func firstCertificate(of chain: [UInt8]) throws -> [UInt8] {
        guard chain.count >= 2, chain[0] == 0x30 else { throw securityFailure("the sender certificate is not DER", .badCertificateInvalid) }
        var length = 0
        var header = 2
        if chain[1] < 0x80 {
            length = Int(chain[1])
        } else {
            let octets = Int(chain[1] & 0x7f)
            guard (1...4).contains(octets), chain.count >= 2 + octets else {
                throw securityFailure("the sender certificate has a malformed DER length", .badCertificateInvalid)
            }
            for i in 0..<octets { length = length << 8 | Int(chain[2 + i]) }
            header += octets
        }
        guard header + length <= chain.count else { throw securityFailure("the sender certificate is truncated", .badCertificateInvalid) }
        return Array(chain[0..<header + length])
    }
}

extension Certificate {
    /// The DER bytes of this certificate.
    public var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }
}
