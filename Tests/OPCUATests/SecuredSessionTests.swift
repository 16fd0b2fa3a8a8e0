import Foundation
import NIOCore
import Testing
import X509
import _CryptoExtras
@testable import OPCUA

/// Sessions under a secured channel (Part 4 §5.6.2–3): the server's signature, the client's,
/// and the UserName password encrypted with the server's key and the last nonce.
private func securedClient(offer: [EndpointSecurity] = [EndpointSecurity(policy: .basic256Sha256, mode: .signAndEncrypt)]) throws -> ServiceClient {
    var client = ServiceClient(allowAnonymous: true)
    client.core.identity = TestKeyPair.server.identity
    client.core.offeredSecurity = offer
    client.security = ChannelSecurity(policy: .basic256Sha256, mode: .signAndEncrypt, clientCertificate: try PeerCertificate(chain: TestKeyPair.client.certificate))
    return client
}

private let clientNonce = [UInt8](repeating: 3, count: 32)

extension ServiceClient {
    mutating func createSecuredSession(certificate: [UInt8] = TestKeyPair.client.certificate, nonce: [UInt8] = clientNonce) throws -> CreateSessionResponse {
        let request = CreateSessionRequest(requestHeader: header, clientDescription: ApplicationDescription(
            applicationUri: "urn:test:client", productUri: nil, applicationName: LocalizedText(text: "test"), applicationType: .client),
                                           endpointUrl: "opc.tcp://127.0.0.1:4840", sessionName: "s", clientNonce: nonce, clientCertificate: certificate,
                                           requestedSessionTimeout: 60_000)
        let response = try call(request, CreateSessionResponse.self)
        token = response.authenticationToken
        return response
    }

    /// ActivateSession signed by `signer` over the server certificate and `serverNonce`.
    mutating func activateSigned(serverNonce: [UInt8], signer: TestKeyPair = .client, identity: ExtensionObject = .null) throws -> ActivateSessionResponse {
        let signature = Array(try signer.key.signature(for: TestKeyPair.server.certificate + serverNonce, padding: .insecurePKCS1v1_5).rawRepresentation)
        return try call(ActivateSessionRequest(requestHeader: header, clientSignature: SignatureData(algorithm: SecurityPolicy.asymmetricSignatureURI, signature: signature),
                                               userIdentityToken: identity), ActivateSessionResponse.self)
    }
}

/// The legacy secret layout: UInt32 length, password, nonce; RSA-OAEP with the server's key.
private func encryptedPassword(_ password: String, nonce: [UInt8]) throws -> ExtensionObject {
    let secret = Array(password.utf8) + nonce
    let plain = withUnsafeBytes(of: UInt32(secret.count).littleEndian, Array.init) + secret
    let encrypted = try PeerCertificate(chain: TestKeyPair.server.certificate).encrypt(plain)
    return try ExtensionObject(binaryEncodingId: UserNameIdentityToken.binaryEncodingId,
                               UserNameIdentityToken(policyId: SessionPolicy.userNamePolicyId, userName: "line", password: encrypted,
                                                     encryptionAlgorithm: SecurityPolicy.asymmetricEncryptionURI))
}

@Suite struct SecuredSessionTests {
    @Test func createSessionIsSignedAndActivateSessionChecksTheClientSignature() throws {
        var client = try securedClient()
        let created = try client.createSecuredSession()
        #expect(created.serverCertificate == TestKeyPair.server.certificate)
        #expect(created.serverSignature.algorithm == SecurityPolicy.asymmetricSignatureURI)
        let server = try PeerCertificate(chain: TestKeyPair.server.certificate)
        #expect(server.verify(created.serverSignature.signature ?? [], over: TestKeyPair.client.certificate + clientNonce))
        let nonce = try #require(created.serverNonce)
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: nonce, signer: .stranger) } == .badApplicationSignatureInvalid)
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: [UInt8](repeating: 0, count: 32)) } == .badApplicationSignatureInvalid)
        let activated = try client.activateSigned(serverNonce: nonce)
        // The next activation signs the new nonce.
        let next = try #require(activated.serverNonce)
        #expect(next != nonce)
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: nonce) } == .badApplicationSignatureInvalid)
        _ = try client.activateSigned(serverNonce: next)
        #expect(try client.read(.serverStatusState).status == nil)
    }

    @Test func theEncryptedPasswordIsCheckedWithItsNonce() throws {
        var client = try securedClient()
        let created = try client.createSecuredSession()
        var nonce = try #require(created.serverNonce)
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: nonce, identity: try encryptedPassword("wrong", nonce: nonce)) } == .badUserAccessDenied)
        // A password sealed with another nonce (a replay) is not a password.
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: nonce, identity: try encryptedPassword("s3cret", nonce: clientNonce)) }
                == .badIdentityTokenInvalid)
        // In the clear under a secured policy: refused, the token policy asked for encryption.
        let plain = try ExtensionObject(binaryEncodingId: UserNameIdentityToken.binaryEncodingId,
                                        UserNameIdentityToken(policyId: SessionPolicy.userNamePolicyId, userName: "line", password: Array("s3cret".utf8)))
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: nonce, identity: plain) } == .badIdentityTokenInvalid)
        let activated = try client.activateSigned(serverNonce: nonce, identity: try encryptedPassword("s3cret", nonce: nonce))
        nonce = try #require(activated.serverNonce)
        let session = try #require(client.core.sessions.sessions[client.token])
        #expect(session.identity == .user(name: "line", role: .operator))
    }

    @Test func sessionsRunOnlyUnderTheOfferedSecurity() throws {
        var client = try securedClient()
        // A None channel is open for discovery, but no session runs on it when None is not offered.
        client.security = ChannelSecurity()
        #expect(faultStatus { _ = try client.createSession() } == .badSecurityPolicyRejected)
        let endpoints = try client.call(GetEndpointsRequest(requestHeader: client.header, endpointUrl: nil), GetEndpointsResponse.self).endpoints
        #expect(endpoints.map(\.securityPolicyUri) == [SecurityPolicy.basic256Sha256.uri])
        #expect(endpoints[0].serverCertificate == TestKeyPair.server.certificate)
        #expect(endpoints[0].userIdentityTokens.first { $0.tokenType == .userName }?.securityPolicyUri == SecurityPolicy.basic256Sha256.uri)
        // A client certificate other than the channel's, or a short nonce, is refused.
        client = try securedClient()
        #expect(faultStatus { _ = try client.createSecuredSession(certificate: TestKeyPair.stranger.certificate) } == .badCertificateInvalid)
        #expect(faultStatus { _ = try client.createSecuredSession(nonce: [1, 2, 3]) } == .badNonceInvalid)
        // A session activated from a channel of other security is refused.
        let created = try client.createSecuredSession()
        client.security = ChannelSecurity()
        #expect(faultStatus { _ = try client.activateSigned(serverNonce: created.serverNonce ?? []) } == .badSecurityChecksFailed)
    }

    @Test func thePKIFolderMakesItsCertificateOnceAndKeepsTheRejected() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("opcua-pki-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let pki = PKIDirectory(path: dir)
        let (first, created) = try pki.serverIdentity(applicationUri: "urn:millwright:plant", hosts: ["127.0.0.1", "line2.example"])
        #expect(created)
        let (second, createdAgain) = try pki.serverIdentity(applicationUri: "urn:millwright:plant", hosts: ["127.0.0.1"])
        #expect(!createdAgain)
        #expect(second.certificate == first.certificate)
        let attributes = try FileManager.default.attributesOfItem(atPath: pki.privateKey.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // The application URI and the hosts are in the subject alternative name.
        let certificate = try PeerCertificate(chain: first.certificate).certificate
        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.uniformResourceIdentifier("urn:millwright:plant")))
        #expect(names.contains(.dnsName("line2.example")))
        #expect(names.count == 3)
        // It signs with the key it was made with.
        #expect(try PeerCertificate(chain: first.certificate).verify(try second.sign([1, 2, 3]), over: [1, 2, 3]))

        let stranger = try PeerCertificate(chain: TestKeyPair.stranger.certificate)
        #expect(pki.trust(stranger)?.status == .badSecurityChecksFailed)
        let rejected = try FileManager.default.contentsOfDirectory(atPath: pki.rejected.path)
        #expect(rejected.count == 1)
        let copy = try Data(contentsOf: pki.rejected.appendingPathComponent(rejected[0]))
        #expect(Array(copy) == TestKeyPair.stranger.certificate)
        // The administrator moves it to trusted/: accepted from then on.
        try FileManager.default.moveItem(at: pki.rejected.appendingPathComponent(rejected[0]), to: pki.trusted.appendingPathComponent("stranger.der"))
        #expect(pki.trust(stranger) == nil)
    }
}
