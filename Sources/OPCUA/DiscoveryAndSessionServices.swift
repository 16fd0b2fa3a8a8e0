/// The structures of the Discovery and Session service sets (Part 4 §5.4, §5.6, §7), in their
/// binary encodings (Part 6 §5.2.6, field order from Opc.Ua.Types.bsd).

extension BinaryReader {
    mutating func readArray<T: OPCUABinaryCodable>(_ what: @autoclosure () -> String, of type: T.Type = T.self) throws -> [T] {
        try readArray(what()) { try $0.read() }
    }

    mutating func readStrings(_ what: @autoclosure () -> String) throws -> [String?] {
        try readArray(what(), minimumElementSize: 4) { try $0.readString("String") }
    }
}

extension BinaryWriter {
    mutating func writeArray<T: OPCUABinaryCodable>(_ elements: [T]) throws {
        try writeArray(elements) { try $0.write($1) }
    }

    mutating func writeStrings(_ strings: [String?]) throws {
        try writeArray(strings) { try $0.writeString($1) }
    }
}

/// ApplicationType (Part 4 §7.2.2).
public enum ApplicationType: Int32, Hashable, Sendable {
    case server = 0, client, clientAndServer, discoveryServer
}

/// ApplicationDescription (Part 4 §7.2).
public struct ApplicationDescription: Hashable, Sendable, OPCUABinaryCodable {
    public var applicationUri: String?
    public var productUri: String?
    public var applicationName: LocalizedText
    public var applicationType: ApplicationType
    public var gatewayServerUri: String?
    public var discoveryProfileUri: String?
    public var discoveryUrls: [String?]

    public init(applicationUri: String?, productUri: String?, applicationName: LocalizedText, applicationType: ApplicationType,
                gatewayServerUri: String? = nil, discoveryProfileUri: String? = nil, discoveryUrls: [String?] = []) {
        self.applicationUri = applicationUri
        self.productUri = productUri
        self.applicationName = applicationName
        self.applicationType = applicationType
        self.gatewayServerUri = gatewayServerUri
        self.discoveryProfileUri = discoveryProfileUri
        self.discoveryUrls = discoveryUrls
    }

    public init(from r: inout BinaryReader) throws {
        applicationUri = try r.readString("ApplicationUri")
        productUri = try r.readString("ProductUri")
        applicationName = try r.read()
        applicationType = try readEnum("ApplicationType", ApplicationType.self, from: &r)
        gatewayServerUri = try r.readString("GatewayServerUri")
        discoveryProfileUri = try r.readString("DiscoveryProfileUri")
        discoveryUrls = try r.readStrings("DiscoveryUrls")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeString(applicationUri)
        try w.writeString(productUri)
        try w.write(applicationName)
        w.writeInteger(applicationType.rawValue)
        try w.writeString(gatewayServerUri)
        try w.writeString(discoveryProfileUri)
        try w.writeStrings(discoveryUrls)
    }
}

/// UserTokenType (Part 4 §7.42).
public enum UserTokenType: Int32, Hashable, Sendable {
    case anonymous = 0, userName, certificate, issuedToken
}

/// UserTokenPolicy (Part 4 §7.43).
public struct UserTokenPolicy: Hashable, Sendable, OPCUABinaryCodable {
    public var policyId: String?
    public var tokenType: UserTokenType
    public var issuedTokenType: String?
    public var issuerEndpointUrl: String?
    public var securityPolicyUri: String?

    public init(policyId: String?, tokenType: UserTokenType, issuedTokenType: String? = nil, issuerEndpointUrl: String? = nil,
                securityPolicyUri: String? = nil) {
        self.policyId = policyId
        self.tokenType = tokenType
        self.issuedTokenType = issuedTokenType
        self.issuerEndpointUrl = issuerEndpointUrl
        self.securityPolicyUri = securityPolicyUri
    }

    public init(from r: inout BinaryReader) throws {
        policyId = try r.readString("PolicyId")
        tokenType = try readEnum("TokenType", UserTokenType.self, from: &r)
        issuedTokenType = try r.readString("IssuedTokenType")
        issuerEndpointUrl = try r.readString("IssuerEndpointUrl")
        securityPolicyUri = try r.readString("SecurityPolicyUri")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeString(policyId)
        w.writeInteger(tokenType.rawValue)
        try w.writeString(issuedTokenType)
        try w.writeString(issuerEndpointUrl)
        try w.writeString(securityPolicyUri)
    }
}

/// EndpointDescription (Part 4 §7.14).
public struct EndpointDescription: Hashable, Sendable, OPCUABinaryCodable {
    public static let uaTcpTransportProfile = "http://opcfoundation.org/UA-Profile/Transport/uatcp-uasc-uabinary"

    public var endpointUrl: String?
    public var server: ApplicationDescription
    public var serverCertificate: [UInt8]?
    public var securityMode: MessageSecurityMode
    public var securityPolicyUri: String?
    public var userIdentityTokens: [UserTokenPolicy]
    public var transportProfileUri: String?
    public var securityLevel: UInt8

    public init(endpointUrl: String?, server: ApplicationDescription, serverCertificate: [UInt8]?, securityMode: MessageSecurityMode,
                securityPolicyUri: String?, userIdentityTokens: [UserTokenPolicy], transportProfileUri: String? = uaTcpTransportProfile,
                securityLevel: UInt8) {
        self.endpointUrl = endpointUrl
        self.server = server
        self.serverCertificate = serverCertificate
        self.securityMode = securityMode
        self.securityPolicyUri = securityPolicyUri
        self.userIdentityTokens = userIdentityTokens
        self.transportProfileUri = transportProfileUri
        self.securityLevel = securityLevel
    }

    public init(from r: inout BinaryReader) throws {
        endpointUrl = try r.readString("EndpointUrl")
        server = try r.read()
        serverCertificate = try r.readByteString("ServerCertificate")
        securityMode = try readEnum("SecurityMode", MessageSecurityMode.self, from: &r)
        securityPolicyUri = try r.readString("SecurityPolicyUri")
        userIdentityTokens = try r.readArray("UserIdentityTokens")
        transportProfileUri = try r.readString("TransportProfileUri")
        securityLevel = try r.readInteger("SecurityLevel")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeString(endpointUrl)
        try w.write(server)
        try w.writeByteString(serverCertificate)
        w.writeInteger(securityMode.rawValue)
        try w.writeString(securityPolicyUri)
        try w.writeArray(userIdentityTokens)
        try w.writeString(transportProfileUri)
        w.writeInteger(securityLevel)
    }
}

/// GetEndpointsRequest (Part 4 §5.4.4).
public struct GetEndpointsRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 428)
    public var requestHeader: RequestHeader
    public var endpointUrl: String?
    public var localeIds: [String?]
    public var profileUris: [String?]

    public init(requestHeader: RequestHeader, endpointUrl: String?, localeIds: [String?] = [], profileUris: [String?] = []) {
        self.requestHeader = requestHeader
        self.endpointUrl = endpointUrl
        self.localeIds = localeIds
        self.profileUris = profileUris
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        endpointUrl = try r.readString("EndpointUrl")
        localeIds = try r.readStrings("LocaleIds")
        profileUris = try r.readStrings("ProfileUris")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.writeString(endpointUrl)
        try w.writeStrings(localeIds)
        try w.writeStrings(profileUris)
    }
}

public struct GetEndpointsResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 431)
    public var responseHeader: ResponseHeader
    public var endpoints: [EndpointDescription]

    public init(responseHeader: ResponseHeader, endpoints: [EndpointDescription]) {
        self.responseHeader = responseHeader
        self.endpoints = endpoints
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        endpoints = try r.readArray("Endpoints")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(endpoints)
    }
}

/// FindServersRequest (Part 4 §5.4.2).
public struct FindServersRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 422)
    public var requestHeader: RequestHeader
    public var endpointUrl: String?
    public var localeIds: [String?]
    public var serverUris: [String?]

    public init(requestHeader: RequestHeader, endpointUrl: String?, localeIds: [String?] = [], serverUris: [String?] = []) {
        self.requestHeader = requestHeader
        self.endpointUrl = endpointUrl
        self.localeIds = localeIds
        self.serverUris = serverUris
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        endpointUrl = try r.readString("EndpointUrl")
        localeIds = try r.readStrings("LocaleIds")
        serverUris = try r.readStrings("ServerUris")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.writeString(endpointUrl)
        try w.writeStrings(localeIds)
        try w.writeStrings(serverUris)
    }
}

public struct FindServersResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 425)
    public var responseHeader: ResponseHeader
    public var servers: [ApplicationDescription]

    public init(responseHeader: ResponseHeader, servers: [ApplicationDescription]) {
        self.responseHeader = responseHeader
        self.servers = servers
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        servers = try r.readArray("Servers")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeArray(servers)
    }
}

/// SignatureData (Part 4 §7.37).
public struct SignatureData: Hashable, Sendable, OPCUABinaryCodable {
    public var algorithm: String?
    public var signature: [UInt8]?

    public init(algorithm: String? = nil, signature: [UInt8]? = nil) {
        self.algorithm = algorithm
        self.signature = signature
    }

    public init(from r: inout BinaryReader) throws {
        algorithm = try r.readString("Algorithm")
        signature = try r.readByteString("Signature")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeString(algorithm)
        try w.writeByteString(signature)
    }
}

/// SignedSoftwareCertificate (Part 4 §7.38): read and ignored, as Part 4 now allows.
public struct SignedSoftwareCertificate: Hashable, Sendable, OPCUABinaryCodable {
    public var certificateData: [UInt8]?
    public var signature: [UInt8]?

    public init(from r: inout BinaryReader) throws {
        certificateData = try r.readByteString("CertificateData")
        signature = try r.readByteString("Signature")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeByteString(certificateData)
        try w.writeByteString(signature)
    }
}

/// CreateSessionRequest (Part 4 §5.6.2).
public struct CreateSessionRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 461)
    public var requestHeader: RequestHeader
    public var clientDescription: ApplicationDescription
    public var serverUri: String?
    public var endpointUrl: String?
    public var sessionName: String?
    public var clientNonce: [UInt8]?
    public var clientCertificate: [UInt8]?
    /// Milliseconds.
    public var requestedSessionTimeout: Double
    public var maxResponseMessageSize: UInt32

    public init(requestHeader: RequestHeader, clientDescription: ApplicationDescription, serverUri: String? = nil, endpointUrl: String?,
                sessionName: String?, clientNonce: [UInt8]?, clientCertificate: [UInt8]? = nil, requestedSessionTimeout: Double,
                maxResponseMessageSize: UInt32 = 0) {
        self.requestHeader = requestHeader
        self.clientDescription = clientDescription
        self.serverUri = serverUri
        self.endpointUrl = endpointUrl
        self.sessionName = sessionName
        self.clientNonce = clientNonce
        self.clientCertificate = clientCertificate
        self.requestedSessionTimeout = requestedSessionTimeout
        self.maxResponseMessageSize = maxResponseMessageSize
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        clientDescription = try r.read()
        serverUri = try r.readString("ServerUri")
        endpointUrl = try r.readString("EndpointUrl")
        sessionName = try r.readString("SessionName")
        clientNonce = try r.readByteString("ClientNonce")
        clientCertificate = try r.readByteString("ClientCertificate")
        requestedSessionTimeout = try r.readDouble("RequestedSessionTimeout")
        maxResponseMessageSize = try r.readInteger("MaxResponseMessageSize")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.write(clientDescription)
        try w.writeString(serverUri)
        try w.writeString(endpointUrl)
        try w.writeString(sessionName)
        try w.writeByteString(clientNonce)
        try w.writeByteString(clientCertificate)
        w.writeDouble(requestedSessionTimeout)
        w.writeInteger(maxResponseMessageSize)
    }
}

public struct CreateSessionResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 464)
    public var responseHeader: ResponseHeader
    public var sessionId: NodeId
    public var authenticationToken: NodeId
    public var revisedSessionTimeout: Double
    public var serverNonce: [UInt8]?
    public var serverCertificate: [UInt8]?
    public var serverEndpoints: [EndpointDescription]
    public var serverSignature: SignatureData
    public var maxRequestMessageSize: UInt32

    public init(responseHeader: ResponseHeader, sessionId: NodeId, authenticationToken: NodeId, revisedSessionTimeout: Double,
                serverNonce: [UInt8]?, serverCertificate: [UInt8]?, serverEndpoints: [EndpointDescription], serverSignature: SignatureData,
                maxRequestMessageSize: UInt32) {
        self.responseHeader = responseHeader
        self.sessionId = sessionId
        self.authenticationToken = authenticationToken
        self.revisedSessionTimeout = revisedSessionTimeout
        self.serverNonce = serverNonce
        self.serverCertificate = serverCertificate
        self.serverEndpoints = serverEndpoints
        self.serverSignature = serverSignature
        self.maxRequestMessageSize = maxRequestMessageSize
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        sessionId = try r.read()
        authenticationToken = try r.read()
        revisedSessionTimeout = try r.readDouble("RevisedSessionTimeout")
        serverNonce = try r.readByteString("ServerNonce")
        serverCertificate = try r.readByteString("ServerCertificate")
        serverEndpoints = try r.readArray("ServerEndpoints")
        _ = try r.readArray("ServerSoftwareCertificates", of: SignedSoftwareCertificate.self)
        serverSignature = try r.read()
        maxRequestMessageSize = try r.readInteger("MaxRequestMessageSize")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.write(sessionId)
        try w.write(authenticationToken)
        w.writeDouble(revisedSessionTimeout)
        try w.writeByteString(serverNonce)
        try w.writeByteString(serverCertificate)
        try w.writeArray(serverEndpoints)
        try w.writeArray([SignedSoftwareCertificate]())
        try w.write(serverSignature)
        w.writeInteger(maxRequestMessageSize)
    }
}

/// AnonymousIdentityToken (Part 4 §7.41.3).
public struct AnonymousIdentityToken: Hashable, Sendable, OPCUABinaryCodable {
    public static let binaryEncodingId = NodeId(numeric: 321)
    public var policyId: String?

    public init(policyId: String?) { self.policyId = policyId }
    public init(from r: inout BinaryReader) throws { policyId = try r.readString("PolicyId") }
    public func encode(to w: inout BinaryWriter) throws { try w.writeString(policyId) }
}

/// UserNameIdentityToken (Part 4 §7.41.4). Under SecurityPolicy None with no encryption
/// algorithm the password is the plain UTF-8 bytes.
public struct UserNameIdentityToken: Hashable, Sendable, OPCUABinaryCodable {
    public static let binaryEncodingId = NodeId(numeric: 324)
    public var policyId: String?
    public var userName: String?
    public var password: [UInt8]?
    public var encryptionAlgorithm: String?

    public init(policyId: String?, userName: String?, password: [UInt8]?, encryptionAlgorithm: String? = nil) {
        self.policyId = policyId
        self.userName = userName
        self.password = password
        self.encryptionAlgorithm = encryptionAlgorithm
    }

    public init(from r: inout BinaryReader) throws {
        policyId = try r.readString("PolicyId")
        userName = try r.readString("UserName")
        password = try r.readByteString("Password")
        encryptionAlgorithm = try r.readString("EncryptionAlgorithm")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.writeString(policyId)
        try w.writeString(userName)
        try w.writeByteString(password)
        try w.writeString(encryptionAlgorithm)
    }
}

/// ActivateSessionRequest (Part 4 §5.6.3).
public struct ActivateSessionRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 467)
    public var requestHeader: RequestHeader
    public var clientSignature: SignatureData
    public var localeIds: [String?]
    public var userIdentityToken: ExtensionObject
    public var userTokenSignature: SignatureData

    public init(requestHeader: RequestHeader, clientSignature: SignatureData = SignatureData(), localeIds: [String?] = [],
                userIdentityToken: ExtensionObject, userTokenSignature: SignatureData = SignatureData()) {
        self.requestHeader = requestHeader
        self.clientSignature = clientSignature
        self.localeIds = localeIds
        self.userIdentityToken = userIdentityToken
        self.userTokenSignature = userTokenSignature
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        clientSignature = try r.read()
        _ = try r.readArray("ClientSoftwareCertificates", of: SignedSoftwareCertificate.self)
        localeIds = try r.readStrings("LocaleIds")
        userIdentityToken = try r.read()
        userTokenSignature = try r.read()
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        try w.write(clientSignature)
        try w.writeArray([SignedSoftwareCertificate]())
        try w.writeStrings(localeIds)
        try w.write(userIdentityToken)
        try w.write(userTokenSignature)
    }
}

public struct ActivateSessionResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 470)
    public var responseHeader: ResponseHeader
    public var serverNonce: [UInt8]?
    public var results: [StatusCode]

    public init(responseHeader: ResponseHeader, serverNonce: [UInt8]?, results: [StatusCode] = []) {
        self.responseHeader = responseHeader
        self.serverNonce = serverNonce
        self.results = results
    }

    public init(from r: inout BinaryReader) throws {
        responseHeader = try r.read()
        serverNonce = try r.readByteString("ServerNonce")
        results = try r.readArray("Results")
        _ = try r.readArray("DiagnosticInfos", of: DiagnosticInfo.self)
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(responseHeader)
        try w.writeByteString(serverNonce)
        try w.writeArray(results)
        try w.writeArray([DiagnosticInfo]())
    }
}

/// CloseSessionRequest (Part 4 §5.6.4).
public struct CloseSessionRequest: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 473)
    public var requestHeader: RequestHeader
    public var deleteSubscriptions: Bool

    public init(requestHeader: RequestHeader, deleteSubscriptions: Bool = true) {
        self.requestHeader = requestHeader
        self.deleteSubscriptions = deleteSubscriptions
    }

    public init(from r: inout BinaryReader) throws {
        requestHeader = try r.read()
        deleteSubscriptions = try r.readBoolean("DeleteSubscriptions")
    }

    public func encode(to w: inout BinaryWriter) throws {
        try w.write(requestHeader)
        w.writeBoolean(deleteSubscriptions)
    }
}

public struct CloseSessionResponse: ServiceMessage, Hashable, Sendable {
    public static let binaryEncodingId = NodeId(numeric: 476)
    public var responseHeader: ResponseHeader

    public init(responseHeader: ResponseHeader) { self.responseHeader = responseHeader }
    public init(from r: inout BinaryReader) throws { responseHeader = try r.read() }
    public func encode(to w: inout BinaryWriter) throws { try w.write(responseHeader) }
}
