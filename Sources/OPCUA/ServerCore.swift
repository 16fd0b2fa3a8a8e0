import NIOCore

/// Who the server says it is, and the bounds it keeps per request.
public struct ServerDescription: Hashable, Sendable {
    public var applicationUri: String
    public var productUri: String
    public var applicationName: String
    public var manufacturerName: String
    public var softwareVersion: String
    /// `opc.tcp://host:port`, set once the listener knows its port.
    public var endpointUrl: String
    /// Operations (nodes to read, write, browse, paths to translate) in one request.
    public var maxOperationsPerRequest: Int
    /// References returned per node before a continuation point.
    public var maxReferencesPerNode: Int
    /// Continuation points a session may hold.
    public var maxContinuationPointsPerSession: Int
    public var maxRequestMessageSize: UInt32

    public init(applicationUri: String, productUri: String = "https://github.com/millwright/millwright", applicationName: String = "Millwright",
                manufacturerName: String = "Millwright", softwareVersion: String = "0", endpointUrl: String,
                maxOperationsPerRequest: Int = 1000, maxReferencesPerNode: Int = 1000, maxContinuationPointsPerSession: Int = 16,
                maxRequestMessageSize: UInt32 = TransportLimits().maxMessageSize) {
        self.applicationUri = applicationUri
        self.productUri = productUri
        self.applicationName = applicationName
        self.manufacturerName = manufacturerName
        self.softwareVersion = softwareVersion
        self.endpointUrl = endpointUrl
        self.maxOperationsPerRequest = maxOperationsPerRequest
        self.maxReferencesPerNode = maxReferencesPerNode
        self.maxContinuationPointsPerSession = maxContinuationPointsPerSession
        self.maxRequestMessageSize = maxRequestMessageSize
    }
}

/// The service layer of the server (Part 4 §5), sans I/O: a decoded request from a secure
/// channel in, the encoded response out. It owns the sessions and the address space, which all
/// connections share; the I/O shell serialises calls into it.
public struct ServerCore: Sendable {
    public var description: ServerDescription
    public var addressSpace: AddressSpace
    public private(set) var sessions: SessionTable
    public let decodingLimits: DecodingLimits
    private let startTime: DateTime
    /// Per session token: what each continuation point still holds, and its page size.
    private var continuationPoints: [NodeId: [[UInt8]: (rest: [ReferenceDescription], pageSize: Int)]] = [:]
    private var nextContinuationPoint: UInt64 = 1
    /// The Boolean RejectPart variables, by camera id; only these are writable.
    public private(set) var rejectPartNodes: [NodeId: String] = [:]
    public var subscriptionLimits = SubscriptionLimits()
    /// Per camera, its result variables, oldest first (at most ``maxResultsPerCamera``).
    private var resultNodes: [String: [NodeId]] = [:]
    public static let maxResultsPerCamera = 100
    var subscriptions: [UInt32: Subscription] = [:]
    /// Per session token, its Publish requests waiting for news, oldest first.
    var publishQueues: [NodeId: [QueuedPublish]] = [:]
    var nextSubscriptionId: UInt32 = 1
    var nextMonitoredItemId: UInt32 = 1
    /// Responses to requests other than the one being handled (Publish requests of a closed session).
    private var outbox: [DeferredResponse] = []
    var randomBytes: @Sendable (Int) -> [UInt8]
    /// The endpoints offered, each a policy and mode; sessions are refused on a channel of any other.
    public var offeredSecurity: [EndpointSecurity] = [EndpointSecurity(policy: .none, mode: .none)]
    /// The server's certificate and key, which the secured policies need.
    public var identity: ServerIdentity?

    public init(description: ServerDescription, addressSpace: AddressSpace, sessionPolicy: SessionPolicy, startTime: DateTime,
                decodingLimits: DecodingLimits = DecodingLimits(),
                randomBytes: @escaping @Sendable (Int) -> [UInt8] = { n in (0..<n).map { _ in UInt8.random(in: .min ... .max) } }) {
        self.description = description
        var space = addressSpace
        let ownNamespace = space.namespaceIndex(for: description.applicationUri)
        self.addressSpace = space
        self.sessions = SessionTable(policy: sessionPolicy, namespaceIndex: ownNamespace)
        self.startTime = startTime
        self.decodingLimits = decodingLimits
        self.randomBytes = randomBytes
    }

    /// What a request handled by ``handle(_:channelId:at:)`` changed that the world outside
    /// may want to know.
    public enum Effect: Hashable, Sendable {
        /// A client wrote RejectPart of `camera` to false.
        case rejectPartReset(camera: String, user: String)
    }

    /// A handled request: the response body (nil for a Publish request, answered later by
    /// ``tick(at:)``), the request's header (for a fault in its place when the response cannot be
    /// sent), its effects, and responses owed to other requests it settled.
    public struct Handled: Sendable {
        public var response: ByteBuffer?
        public var header: RequestHeader
        public var effects: [Effect]
        public var deferred: [DeferredResponse]
    }

    /// Answers one MSG request body. A body that cannot be decoded is answered with a
    /// ServiceFault (BadDecodingError or BadEncodingLimitsExceeded), as Part 4 §7.36 wants.
    public mutating func handle(_ body: ByteBuffer, channelId: UInt32, requestId: UInt32 = 0, security: ChannelSecurity = ChannelSecurity(),
                                at now: Moment) -> Handled {
        let (response, header, effects) = answer(body, channelId: channelId, requestId: requestId, security: security, at: now)
        defer { outbox = [] }
        return Handled(response: response, header: header, effects: effects, deferred: outbox)
    }

    /// What time alone decides: idle sessions end (their waiting Publish requests answered
    /// BadSessionClosed) and subscriptions publish. The listener calls this every 50 ms.
    public mutating func tick(at now: Moment) -> [DeferredResponse] {
        expireSessions(at: now)
        defer { outbox = [] }
        return outbox + publishDue(at: now)
    }

    /// Drops idle sessions and their continuation points (the listener calls this every second).
    @discardableResult
    public mutating func expireSessions(at now: Moment) -> Int {
        let gone = sessions.expire(at: now)
        if gone > 0 { forgetClosedSessions(at: now) }
        return gone
    }

    private mutating func forgetClosedSessions(at now: Moment) {
        let live = sessions.sessions
        continuationPoints = continuationPoints.filter { live[$0.key] != nil }
        outbox += dropSubscriptions(ofSessionsOtherThan: { live[$0] != nil }, at: now)
    }

    /// The value a Read of the Value attribute returns now.
    func currentValue(of id: NodeId, at now: Moment) -> Variant {
        dynamicValue(id, at: now) ?? addressSpace[id]?.value ?? .null
    }

    private mutating func answer(_ body: ByteBuffer, channelId: UInt32, requestId: UInt32, security: ChannelSecurity,
                                 at now: Moment) -> (ByteBuffer?, RequestHeader, [Effect]) {
        var reader = BinaryReader(body, limits: decodingLimits)
        var header = RequestHeader(requestHandle: 0)
        var effects: [Effect] = []
        do {
            let typeId: NodeId = try reader.read()
            // Every request starts with its header: read it first so a fault can echo the handle.
            var peek = reader
            header = try peek.read()
            let response = try dispatch(typeId, &reader, header: header, channelId: channelId, requestId: requestId, security: security,
                                        at: now, effects: &effects)
            return (response, header, effects)
        } catch SessionTable.Failure.status(let status) {
            return (fault(header, now, status), header, [])
        } catch let error as OPCUADecodeError {
            return (fault(header, now, error.statusCode), header, [])
        } catch let error as ServiceError {
            return (fault(header, now, error.status), header, [])
        } catch {
            return (fault(header, now, .badInternalError), header, [])
        }
    }

    private func fault(_ header: RequestHeader, _ now: Moment, _ status: StatusCode) -> ByteBuffer {
        (try? ServiceFault(answering: header, at: now.wall, status).encodedMessage()) ?? ByteBuffer()
    }

    struct ServiceError: Error {
        var status: StatusCode
        init(_ status: StatusCode) { self.status = status }
    }

    private mutating func dispatch(_ typeId: NodeId, _ r: inout BinaryReader, header: RequestHeader, channelId: UInt32, requestId: UInt32,
                                   security: ChannelSecurity, at now: Moment, effects: inout [Effect]) throws -> ByteBuffer? {
        func decode<T: ServiceMessage>(_: T.Type) throws -> T {
            let value: T = try r.read()
            try r.expectEnd("\(T.self)")
            return value
        }
        let ok = ResponseHeader(answering: header, at: now.wall)
        switch typeId {
        case GetEndpointsRequest.binaryEncodingId:
            _ = try decode(GetEndpointsRequest.self)
            return try GetEndpointsResponse(responseHeader: ok, endpoints: endpoints).encodedMessage()
        case FindServersRequest.binaryEncodingId:
            _ = try decode(FindServersRequest.self)
            return try FindServersResponse(responseHeader: ok, servers: [application]).encodedMessage()
        case CreateSessionRequest.binaryEncodingId:
            let request = try decode(CreateSessionRequest.self)
            expireSessions(at: now)
            let signature = try sessionSignature(request, security: security)
            let nonce = randomBytes(SecurityPolicy.nonceLength)
            let session = try sessions.create(name: request.sessionName, requestedTimeout: request.requestedSessionTimeout, channelId: channelId,
                                               at: now, randomToken: randomBytes(32), security: security, serverNonce: nonce)
            return try CreateSessionResponse(responseHeader: ok, sessionId: session.sessionId, authenticationToken: session.authenticationToken,
                                             revisedSessionTimeout: session.timeout, serverNonce: nonce,
                                             serverCertificate: security.policy == .none ? nil : identity?.certificate,
                                             serverEndpoints: endpoints, serverSignature: signature,
                                             maxRequestMessageSize: description.maxRequestMessageSize).encodedMessage()
        case ActivateSessionRequest.binaryEncodingId:
            let request = try decode(ActivateSessionRequest.self)
            let nonce = randomBytes(SecurityPolicy.nonceLength)
            _ = try sessions.activate(header.authenticationToken, identity: request.userIdentityToken, channelId: channelId, at: now,
                                      limits: decodingLimits,
                                      proof: SessionTable.Proof(security: security, clientSignature: request.clientSignature, server: identity,
                                                                nextNonce: nonce))
            return try ActivateSessionResponse(responseHeader: ok, serverNonce: nonce).encodedMessage()
        case CloseSessionRequest.binaryEncodingId:
            _ = try decode(CloseSessionRequest.self)
            try sessions.close(header.authenticationToken, channelId: channelId)
            // Subscriptions are never transferred here: they go with their session.
            forgetClosedSessions(at: now)
            return try CloseSessionResponse(responseHeader: ok).encodedMessage()
        case CreateSubscriptionRequest.binaryEncodingId:
            let request = try decode(CreateSubscriptionRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            return try createSubscription(request, session: session.authenticationToken, at: now).encodedMessage()
        case CreateMonitoredItemsRequest.binaryEncodingId:
            let request = try decode(CreateMonitoredItemsRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.itemsToCreate.count)
            let results = try createMonitoredItems(request, session: session.authenticationToken)
            return try CreateMonitoredItemsResponse(responseHeader: ok, results: results).encodedMessage()
        case DeleteSubscriptionsRequest.binaryEncodingId:
            let request = try decode(DeleteSubscriptionsRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.subscriptionIds.count)
            let results = deleteSubscriptions(request.subscriptionIds, session: session.authenticationToken)
            return try DeleteSubscriptionsResponse(responseHeader: ok, results: results).encodedMessage()
        case ModifySubscriptionRequest.binaryEncodingId:
            let request = try decode(ModifySubscriptionRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            return try modifySubscription(request, session: session.authenticationToken, at: now).encodedMessage()
        case SetPublishingModeRequest.binaryEncodingId:
            let request = try decode(SetPublishingModeRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.subscriptionIds.count)
            let results = setPublishingMode(request.publishingEnabled, request.subscriptionIds, session: session.authenticationToken)
            return try SetPublishingModeResponse(responseHeader: ok, results: results).encodedMessage()
        case ModifyMonitoredItemsRequest.binaryEncodingId:
            let request = try decode(ModifyMonitoredItemsRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.itemsToModify.count)
            let results = try modifyMonitoredItems(request, session: session.authenticationToken)
            return try ModifyMonitoredItemsResponse(responseHeader: ok, results: results).encodedMessage()
        case DeleteMonitoredItemsRequest.binaryEncodingId:
            let request = try decode(DeleteMonitoredItemsRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.monitoredItemIds.count)
            let results = try deleteMonitoredItems(request, session: session.authenticationToken)
            return try DeleteMonitoredItemsResponse(responseHeader: ok, results: results).encodedMessage()
        case RepublishRequest.binaryEncodingId:
            let request = try decode(RepublishRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            let message = try republish(request, session: session.authenticationToken)
            return try RepublishResponse(responseHeader: ok, notificationMessage: message).encodedMessage()
        case PublishRequest.binaryEncodingId:
            let request = try decode(PublishRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            guard request.subscriptionAcknowledgements.count <= description.maxOperationsPerRequest else { throw ServiceError(.badTooManyOperations) }
            try queuePublish(request, session: session.authenticationToken, channelId: channelId, requestId: requestId)
            return nil
        case BrowseRequest.binaryEncodingId:
            let request = try decode(BrowseRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.nodesToBrowse.count)
            guard request.view.viewId.isNull else { throw ServiceError(.badViewIdUnknown) }
            let results = request.nodesToBrowse.map { browse($0, maxReferences: request.requestedMaxReferencesPerNode, session: session.authenticationToken) }
            return try BrowseResponse(responseHeader: ok, results: results).encodedMessage()
        case BrowseNextRequest.binaryEncodingId:
            let request = try decode(BrowseNextRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.continuationPoints.count)
            let results = request.continuationPoints.map {
                browseNext($0 ?? [], release: request.releaseContinuationPoints, session: session.authenticationToken)
            }
            return try BrowseNextResponse(responseHeader: ok, results: results).encodedMessage()
        case TranslateBrowsePathsRequest.binaryEncodingId:
            let request = try decode(TranslateBrowsePathsRequest.self)
            _ = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.browsePaths.count)
            return try TranslateBrowsePathsResponse(responseHeader: ok, results: request.browsePaths.map(translate)).encodedMessage()
        case ReadRequest.binaryEncodingId:
            let request = try decode(ReadRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.nodesToRead.count)
            guard let timestamps = TimestampsToReturn(rawValue: request.timestampsToReturn) else { throw ServiceError(.badTimestampsToReturnInvalid) }
            guard request.maxAge >= 0 else { throw ServiceError(.badMaxAgeInvalid) }
            let results = request.nodesToRead.map { read($0, timestamps: timestamps, session: session, at: now) }
            return try ReadResponse(responseHeader: ok, results: results).encodedMessage()
        case WriteRequest.binaryEncodingId:
            let request = try decode(WriteRequest.self)
            let session = try sessions.use(header.authenticationToken, channelId: channelId, at: now)
            try checkCount(request.nodesToWrite.count)
            let results = request.nodesToWrite.map { write($0, session: session, effects: &effects) }
            return try WriteResponse(responseHeader: ok, results: results).encodedMessage()
        default:
            // The header was readable; the rest of an unknown request is not ours to judge.
            return fault(header, now, .badServiceUnsupported)
        }
    }

    private func checkCount(_ count: Int) throws {
        guard count > 0 else { throw ServiceError(.badNothingToDo) }
        guard count <= description.maxOperationsPerRequest else { throw ServiceError(.badTooManyOperations) }
    }

    // MARK: Discovery

    public var application: ApplicationDescription {
        ApplicationDescription(applicationUri: description.applicationUri, productUri: description.productUri,
                               applicationName: LocalizedText(locale: "en", text: description.applicationName), applicationType: .server,
                               discoveryUrls: [description.endpointUrl])
    }

    /// One endpoint per offered policy and mode, UA-TCP binary, each with the server certificate.
    public var endpoints: [EndpointDescription] {
        offeredSecurity.map { e in
            EndpointDescription(endpointUrl: description.endpointUrl, server: application, serverCertificate: identity?.certificate,
                                securityMode: e.mode, securityPolicyUri: e.policy.uri, userIdentityTokens: sessions.policy.userTokenPolicies(for: e.policy),
                                securityLevel: e.securityLevel)
        }
    }

    /// CreateSession's checks of the channel, and the server's proof that it holds its key: a
    /// signature over the client certificate and nonce (Part 4 §5.6.2).
    private func sessionSignature(_ request: CreateSessionRequest, security: ChannelSecurity) throws -> SignatureData {
        guard offeredSecurity.contains(where: { $0.policy == security.policy && $0.mode == security.mode }) else {
            throw ServiceError(.badSecurityPolicyRejected)
        }
        guard security.policy != .none else { return SignatureData() }
        let nonce = request.clientNonce ?? []
        guard nonce.count >= SecurityPolicy.nonceLength else { throw ServiceError(.badNonceInvalid) }
        guard let channelCertificate = security.clientCertificate, let identity,
              let offered = request.clientCertificate, (try? PeerCertificate(chain: offered)) == channelCertificate else {
            throw ServiceError(.badCertificateInvalid)
        }
        let signature = try identity.sign(offered + nonce)
        return SignatureData(algorithm: SecurityPolicy.asymmetricSignatureURI, signature: signature)
    }

    // MARK: View

    private func matches(_ r: Reference, direction: BrowseDirection, type: NodeId, includeSubtypes: Bool) -> Bool {
        switch direction {
        case .forward where !r.isForward, .inverse where r.isForward: return false
        default: break
        }
        if type.isNull { return true }
        return r.referenceTypeId == type || (includeSubtypes && addressSpace.isSubtype(r.referenceTypeId, of: type))
    }

    private func describe(_ r: Reference, resultMask: UInt32) -> ReferenceDescription? {
        guard let target = addressSpace[r.target] else { return nil }
        // Part 4 §5.8.2.2: fields the mask leaves out are sent empty.
        func wants(_ bit: UInt32) -> Bool { resultMask & bit != 0 }
        return ReferenceDescription(
            referenceTypeId: wants(0x01) ? r.referenceTypeId : .null, isForward: wants(0x02) ? r.isForward : true,
            nodeId: ExpandedNodeId(target.nodeId), browseName: wants(0x08) ? target.browseName : QualifiedName(name: nil),
            displayName: wants(0x10) ? target.displayName : LocalizedText(text: nil), nodeClass: wants(0x04) ? target.nodeClass : .unspecified,
            typeDefinition: ExpandedNodeId(wants(0x20) ? addressSpace.typeDefinition(of: target.nodeId) ?? .null : .null))
    }

    private mutating func browse(_ d: BrowseDescription, maxReferences: UInt32, session: NodeId) -> BrowseResult {
        guard d.directionIsValid else { return BrowseResult(statusCode: .badBrowseDirectionInvalid) }
        guard let node = addressSpace[d.nodeId] else { return BrowseResult(statusCode: .badNodeIdUnknown) }
        guard d.referenceTypeId.isNull || addressSpace[d.referenceTypeId]?.nodeClass == .referenceType else {
            return BrowseResult(statusCode: .badReferenceTypeIdInvalid)
        }
        let all = node.references.filter { r in
            guard matches(r, direction: d.browseDirection, type: d.referenceTypeId, includeSubtypes: d.includeSubtypes) else { return false }
            guard d.nodeClassMask != 0 else { return true }
            return addressSpace[r.target].map { UInt32(bitPattern: $0.nodeClass.rawValue) & d.nodeClassMask != 0 } ?? false
        }.compactMap { describe($0, resultMask: d.resultMask) }
        return page(all, maxReferences: maxReferences, session: session)
    }

    /// The first page of `references`; the rest waits behind a continuation point.
    private mutating func page(_ references: [ReferenceDescription], maxReferences: UInt32, session: NodeId) -> BrowseResult {
        let limit = maxReferences == 0 ? description.maxReferencesPerNode : min(Int(maxReferences), description.maxReferencesPerNode)
        return page(references, pageSize: limit, session: session)
    }

    private mutating func page(_ references: [ReferenceDescription], pageSize limit: Int, session: NodeId) -> BrowseResult {
        guard references.count > limit else { return BrowseResult(statusCode: .good, references: references) }
        var held = continuationPoints[session] ?? [:]
        guard held.count < description.maxContinuationPointsPerSession else { return BrowseResult(statusCode: .badNoContinuationPoints) }
        let point = withUnsafeBytes(of: nextContinuationPoint.littleEndian) { Array($0) }
        nextContinuationPoint += 1
        held[point] = (Array(references[limit...]), limit)
        continuationPoints[session] = held
        return BrowseResult(statusCode: .good, continuationPoint: point, references: Array(references[..<limit]))
    }

    private mutating func browseNext(_ point: [UInt8], release: Bool, session: NodeId) -> BrowseResult {
        guard let held = continuationPoints[session]?.removeValue(forKey: point) else { return BrowseResult(statusCode: .badContinuationPointInvalid) }
        if release { return BrowseResult(statusCode: .good) }
        return page(held.rest, pageSize: held.pageSize, session: session)
    }

    private func translate(_ path: BrowsePath) -> BrowsePathResult {
        guard addressSpace[path.startingNode] != nil else { return BrowsePathResult(statusCode: .badNodeIdUnknown) }
        guard !path.elements.isEmpty else { return BrowsePathResult(statusCode: .badNothingToDo) }
        var current: [NodeId] = [path.startingNode]
        for element in path.elements {
            guard element.targetName.name?.isEmpty == false else { return BrowsePathResult(statusCode: .badBrowseNameInvalid) }
            var next: [NodeId] = []
            for id in current {
                for r in addressSpace[id]?.references ?? []
                where matches(r, direction: element.isInverse ? .inverse : .forward, type: element.referenceTypeId, includeSubtypes: element.includeSubtypes)
                    && addressSpace[r.target]?.browseName == element.targetName && !next.contains(r.target) {
                    next.append(r.target)
                    // A path that fans out this far is not one a client means.
                    if next.count >= description.maxReferencesPerNode { break }
                }
            }
            guard !next.isEmpty else { return BrowsePathResult(statusCode: .badNoMatch) }
            current = next
        }
        return BrowsePathResult(statusCode: .good, targets: current.map { BrowsePathTarget(targetId: ExpandedNodeId($0)) })
    }

    // MARK: Attribute

    private func read(_ item: ReadValueId, timestamps: TimestampsToReturn, session: Session, at now: Moment) -> DataValue {
        guard let node = addressSpace[item.nodeId] else { return DataValue(status: .badNodeIdUnknown) }
        guard let attribute = AttributeId(rawValue: item.attributeId) else { return DataValue(status: .badAttributeIdInvalid) }
        guard item.indexRange == nil || item.indexRange == "" else { return DataValue(status: .badIndexRangeInvalid) }
        if attribute == .value {
            guard node.nodeClass == .variable || node.nodeClass == .variableType else { return DataValue(status: .badAttributeIdInvalid) }
            guard item.dataEncoding.name == nil || item.dataEncoding.name == "Default Binary" else { return DataValue(status: .badDataEncodingInvalid) }
            var value = DataValue(value: dynamicValue(node.nodeId, at: now) ?? node.value ?? .null, status: nil)
            if timestamps == .source || timestamps == .both { value.sourceTimestamp = now.wall }
            if timestamps == .server || timestamps == .both { value.serverTimestamp = now.wall }
            return value
        }
        guard let variant = attributeValue(node, attribute, session: session) else { return DataValue(status: .badAttributeIdInvalid) }
        return DataValue(value: variant)
    }

    private func attributeValue(_ n: Node, _ a: AttributeId, session: Session) -> Variant? {
        func s(_ scalar: Scalar?) -> Variant? { scalar.map(Variant.scalar) }
        switch a {
        case .nodeId: return s(.nodeId(n.nodeId))
        case .nodeClass: return s(.int32(n.nodeClass.rawValue))
        case .browseName: return s(.qualifiedName(n.browseName))
        case .displayName: return s(.localizedText(n.displayName))
        case .description: return s(.localizedText(n.description ?? LocalizedText(text: nil)))
        case .writeMask, .userWriteMask: return s(.uInt32(0))
        case .isAbstract: return s(n.isAbstract.map(Scalar.boolean))
        case .symmetric: return s(n.symmetric.map(Scalar.boolean))
        case .inverseName: return n.nodeClass == .referenceType ? s(.localizedText(n.inverseName ?? LocalizedText(text: nil))) : nil
        case .containsNoLoops: return s(n.containsNoLoops.map(Scalar.boolean))
        case .eventNotifier: return s(n.eventNotifier.map(Scalar.byte))
        case .dataType: return s(n.dataType.map(Scalar.nodeId))
        case .valueRank: return s(n.valueRank.map(Scalar.int32))
        case .arrayDimensions:
            guard n.nodeClass == .variable || n.nodeClass == .variableType else { return nil }
            return .array(type: .uInt32, elements: (n.arrayDimensions ?? []).map(Scalar.uInt32))
        case .accessLevel: return s(n.accessLevel.map(Scalar.byte))
        case .userAccessLevel:
            guard let level = n.accessLevel else { return nil }
            let writable = rejectPartNodes[n.nodeId] != nil && session.mayResetRejectPart
            return s(.byte(writable ? level : level & ~AccessLevel.currentWrite))
        case .minimumSamplingInterval: return s(n.minimumSamplingInterval.map(Scalar.double))
        case .historizing: return s(n.historizing.map(Scalar.boolean))
        case .executable: return s(n.executable.map(Scalar.boolean))
        // Call is not a service of this build: nothing is executable for a user.
        case .userExecutable: return n.executable == nil ? nil : s(.boolean(false))
        case .value, .dataTypeDefinition, .rolePermissions, .userRolePermissions, .accessRestrictions, .accessLevelEx: return nil
        }
    }

    /// The values computed when read: the server's status, clock and tables.
    func dynamicValue(_ id: NodeId, at now: Moment) -> Variant? {
        guard id.namespaceIndex == 0 else { return nil }
        switch id {
        case .serverStatusCurrentTime: return .scalar(.dateTime(now.wall))
        case .serverStatusStartTime: return .scalar(.dateTime(startTime))
        case .serverStatusState: return .scalar(.int32(0))  // ServerState Running
        case .serverStatusSecondsTillShutdown: return .scalar(.uInt32(0))
        case .serverStatusShutdownReason: return .scalar(.localizedText(LocalizedText(text: nil)))
        case .serverStatusBuildInfo: return (try? ExtensionObject(binaryEncodingId: NodeId(numeric: 340), buildInfo)).map { .scalar(.extensionObject($0)) }
        case .serverStatus: return (try? ExtensionObject(binaryEncodingId: .serverStatusEncodingDefaultBinary, ServerStatus(core: self, now: now.wall)))
            .map { .scalar(.extensionObject($0)) }
        case .namespaceArray: return .array(type: .string, elements: addressSpace.namespaces.map { .string($0) })
        case .serverArray: return .array(type: .string, elements: [.string(description.applicationUri)])
        case .serviceLevel: return .scalar(.byte(255))
        default: return nil
        }
    }

    private var buildInfo: BuildInfo {
        BuildInfo(productUri: description.productUri, manufacturerName: description.manufacturerName, productName: description.applicationName,
                  softwareVersion: description.softwareVersion, buildNumber: description.softwareVersion, buildDate: startTime)
    }

    private struct BuildInfo: OPCUABinaryCodable {
        var productUri, manufacturerName, productName, softwareVersion, buildNumber: String
        var buildDate: DateTime

        init(productUri: String, manufacturerName: String, productName: String, softwareVersion: String, buildNumber: String, buildDate: DateTime) {
            (self.productUri, self.manufacturerName, self.productName) = (productUri, manufacturerName, productName)
            (self.softwareVersion, self.buildNumber, self.buildDate) = (softwareVersion, buildNumber, buildDate)
        }

        init(from r: inout BinaryReader) throws { throw OPCUAEncodeError("BuildInfo is only sent") }

        func encode(to w: inout BinaryWriter) throws {
            for s in [productUri, manufacturerName, productName, softwareVersion, buildNumber] { try w.writeString(s) }
            try w.write(buildDate)
        }
    }

    /// ServerStatusDataType (Part 5 §12.10).
    private struct ServerStatus: OPCUABinaryCodable {
        var start, current: DateTime
        var build: BuildInfo

        init(core: ServerCore, now: DateTime) {
            start = core.startTime
            current = now
            build = core.buildInfo
        }

        init(from r: inout BinaryReader) throws { throw OPCUAEncodeError("ServerStatus is only sent") }

        func encode(to w: inout BinaryWriter) throws {
            try w.write(start)
            try w.write(current)
            w.writeInteger(Int32(0))  // Running
            try build.encode(to: &w)
            w.writeInteger(UInt32(0))
            try w.write(LocalizedText(text: nil))
        }
    }

    private mutating func write(_ item: WriteValue, session: Session, effects: inout [Effect]) -> StatusCode {
        guard addressSpace[item.nodeId] != nil else { return .badNodeIdUnknown }
        guard item.attributeId == AttributeId.value.rawValue, let camera = rejectPartNodes[item.nodeId] else { return .badNotWritable }
        guard session.mayResetRejectPart, case .user(let user, _) = session.identity else { return .badUserAccessDenied }
        guard item.indexRange == nil || item.indexRange == "" else { return .badIndexRangeInvalid }
        guard case .scalar(.boolean(let value))? = item.value.value else { return .badTypeMismatch }
        // The line resets the signal; only the gateway raises it.
        guard !value else { return .badWriteNotSupported }
        guard item.value.status == nil || item.value.status == .good else { return .badWriteNotSupported }
        addressSpace.setValue(.scalar(.boolean(false)), of: item.nodeId)
        effects.append(.rejectPartReset(camera: camera, user: user))
        return .good
    }

    // MARK: Vision systems

    /// Ensures a VisionSystemType object for `camera` under Objects, with SystemState,
    /// ResultManagement/Results and RejectPart; returns the RejectPart node.
    @discardableResult
    public mutating func addVisionSystem(camera: String) -> NodeId {
        let own = addressSpace.namespaceIndex(for: description.applicationUri)
        let mv = addressSpace.namespaceIndex(for: MachineVision.namespaceUri)
        let root = NodeId(namespaceIndex: own, .string(camera))
        let rejectPart = NodeId(namespaceIndex: own, .string("\(camera).RejectPart"))
        if rejectPartNodes[rejectPart] != nil { return rejectPart }
        func add(_ id: NodeId, _ cls: NodeClass, _ name: QualifiedName, type: NodeId, parent: NodeId, via reference: NodeId, configure: (inout Node) -> Void = { _ in }) {
            var node = Node(nodeId: id, nodeClass: cls, browseName: name)
            configure(&node)
            addressSpace.add(node)
            addressSpace.addReference(reference, from: parent, to: id)
            addressSpace.addReference(.hasTypeDefinition, from: id, to: type)
        }
        // SubscribeToEvents: its ResultReadyEventType events can be monitored here.
        add(root, .object, QualifiedName(namespaceIndex: own, name: camera), type: NodeId(namespaceIndex: mv, numeric: MachineVision.visionSystemType),
            parent: .objectsFolder, via: .organizes) { $0.eventNotifier = 1 }
        add(NodeId(namespaceIndex: own, .string("\(camera).SystemState")), .variable, QualifiedName(namespaceIndex: mv, name: "SystemState"),
            type: .baseDataVariableType, parent: root, via: .hasComponent) { node in
            node.dataType = NodeId(namespaceIndex: mv, numeric: MachineVision.systemStateDescriptionDataType)
            node.value = (try? ExtensionObject(binaryEncodingId: NodeId(namespaceIndex: mv, numeric: MachineVision.systemStateDescriptionEncodingDefaultBinary),
                                               MachineVision.SystemStateDescription(state: MachineVision.productionState, description: "Production")))
                .map { .scalar(.extensionObject($0)) }
        }
        let management = NodeId(namespaceIndex: own, .string("\(camera).ResultManagement"))
        add(management, .object, QualifiedName(namespaceIndex: mv, name: "ResultManagement"),
            type: NodeId(namespaceIndex: mv, numeric: MachineVision.resultManagementType), parent: root, via: .hasComponent)
        add(NodeId(namespaceIndex: own, .string("\(camera).ResultManagement.Results")), .object, QualifiedName(namespaceIndex: mv, name: "Results"),
            type: NodeId(namespaceIndex: mv, numeric: MachineVision.resultFolderType), parent: management, via: .hasComponent)
        add(rejectPart, .variable, QualifiedName(namespaceIndex: own, name: "RejectPart"), type: .baseDataVariableType, parent: root, via: .hasComponent) { node in
            node.dataType = .booleanDataType
            node.value = .scalar(.boolean(false))
            node.accessLevel = AccessLevel.currentRead | AccessLevel.currentWrite
        }
        rejectPartNodes[rejectPart] = camera
        return rejectPart
    }

    /// Adds a result under the camera's ResultManagement/Results as a `ResultType` variable
    /// holding a `ResultDataType` value; the oldest goes beyond ``maxResultsPerCamera``.
    public mutating func addResult(camera: String, _ result: VisionResult) {
        addVisionSystem(camera: camera)
        let own = addressSpace.namespaceIndex(for: description.applicationUri)
        let mv = addressSpace.namespaceIndex(for: MachineVision.namespaceUri)
        let folder = NodeId(namespaceIndex: own, .string("\(camera).ResultManagement.Results"))
        let id = NodeId(namespaceIndex: own, .string("\(camera).ResultManagement.Results.\(result.resultId)"))
        var held = resultNodes[camera] ?? []
        if let existing = held.firstIndex(of: id) { held.remove(at: existing) }
        var node = Node(nodeId: id, nodeClass: .variable, browseName: QualifiedName(namespaceIndex: own, name: result.resultId))
        node.dataType = NodeId(namespaceIndex: mv, numeric: MachineVision.resultDataType)
        node.value = (try? ExtensionObject(binaryEncodingId: NodeId(namespaceIndex: mv, numeric: MachineVision.resultDataTypeEncodingDefaultBinary), result))
            .map { .scalar(.extensionObject($0)) }
        addressSpace.add(node)
        addressSpace.addReference(.hasComponent, from: folder, to: id)
        addressSpace.addReference(.hasTypeDefinition, from: id, to: NodeId(namespaceIndex: mv, numeric: MachineVision.resultType))
        held.append(id)
        while held.count > Self.maxResultsPerCamera { addressSpace.remove(held.removeFirst()) }
        resultNodes[camera] = held
    }

    /// The result variables of `camera`, oldest first.
    public func results(camera: String) -> [NodeId] { resultNodes[camera] ?? [] }

    /// Sets RejectPart of `camera` (adding its VisionSystem object when new).
    public mutating func setRejectPart(camera: String, _ value: Bool) {
        let id = addVisionSystem(camera: camera)
        addressSpace.setValue(.scalar(.boolean(value)), of: id)
    }

    public func rejectPart(camera: String) -> Bool? {
        guard let id = rejectPartNodes.first(where: { $0.value == camera })?.key, case .scalar(.boolean(let v))? = addressSpace[id]?.value else { return nil }
        return v
    }
}

/// The ids of the Machine Vision model (Opc.Ua.MachineVision.NodeIds.csv) this server uses.
public enum MachineVision {
    public static let namespaceUri = "http://opcfoundation.org/UA/MachineVision"
    static let visionSystemType: UInt32 = 1003
    static let resultManagementType: UInt32 = 1007
    static let resultFolderType: UInt32 = 1016
    static let systemStateDescriptionDataType: UInt32 = 3024
    static let systemStateDescriptionEncodingDefaultBinary: UInt32 = 5278
    /// SystemStateDataType PRD_1: the vision system is working on a job.
    static let productionState: Int32 = 1

    static let resultReadyEventType: UInt32 = 1024
    static let resultType: UInt32 = 2002
    static let resultDataType: UInt32 = 3006
    static let resultDataTypeEncodingDefaultBinary: UInt32 = 5018

    /// SystemStateDescriptionDataType: the state and a text.
    struct SystemStateDescription: OPCUABinaryCodable {
        var state: Int32
        var description: String

        init(state: Int32, description: String) {
            self.state = state
            self.description = description
        }

        // StateDescription is optional: an encoding mask comes first (Part 6 §5.2.7), bit 0 for it.
        init(from r: inout BinaryReader) throws {
            let mask = try r.readInteger("EncodingMask", as: UInt32.self)
            state = try r.readInteger("State")
            description = mask & 1 != 0 ? try r.readString("StateDescription") ?? "" : ""
        }

        func encode(to w: inout BinaryWriter) throws {
            w.writeInteger(UInt32(1))
            w.writeInteger(state)
            try w.writeString(description)
        }
    }
}

/// One inspection result, published as a Machine Vision `ResultDataType` (OPC 40100-1 §12.2).
public struct VisionResult: Hashable, Sendable {
    public var resultId: String
    /// NOK (ResultState 2) when the part is to be rejected; OK (1) otherwise.
    public var rejected: Bool
    public var simulated: Bool
    public var creationTime: DateTime
    /// ResultContent[0]: the result as a JSON document.
    public var content: String
    public var partId: String?

    public init(resultId: String, rejected: Bool, simulated: Bool, creationTime: DateTime, content: String, partId: String? = nil) {
        self.resultId = resultId
        self.rejected = rejected
        self.simulated = simulated
        self.creationTime = creationTime
        self.content = content
        self.partId = partId
    }
}

extension VisionResult: OPCUABinaryCodable {
    /// The layout of the Machine Vision type dictionary: an encoding mask of the optional fields
    /// (bit 1 IsSimulated, 3 PartId, 8 ResultContent), then the fields in order; the identifier
    /// structures with optional parts carry their own (empty) masks.
    public func encode(to w: inout BinaryWriter) throws {
        w.writeInteger(UInt32(1 << 1 | (partId == nil ? 0 : 1 << 3) | 1 << 8))
        try w.writeString(resultId)
        w.writeBoolean(false)  // IsPartial
        w.writeBoolean(simulated)
        w.writeInteger(Int32(rejected ? 2 : 1))
        if let partId {
            w.writeInteger(UInt32(0))
            try w.writeString(partId)
        }
        // InternalRecipeId and InternalConfigurationId: this gateway has one of each.
        for id in ["millwright", "millwright"] {
            w.writeInteger(UInt32(0))
            try w.writeString(id)
        }
        try w.writeString("")  // JobId
        try w.write(creationTime)
        try w.writeArray([Variant.scalar(.string(content))]) { try $0.write($1) }
    }

    public init(from r: inout BinaryReader) throws {
        let mask = try r.readInteger("ResultDataType mask", as: UInt32.self)
        // Only what ``encode(to:)`` writes is read back: a mask naming other fields is refused.
        guard mask & ~UInt32(1 << 1 | 1 << 3 | 1 << 8) == 0 else { throw r.invalid("ResultDataType mask", at: 0, "fields this server does not write") }
        resultId = try r.readString("ResultId") ?? ""
        _ = try r.readBoolean("IsPartial")
        simulated = mask & 1 << 1 != 0 ? try r.readBoolean("IsSimulated") : false
        rejected = try r.readInteger("ResultState", as: Int32.self) == 2
        partId = nil
        if mask & 1 << 3 != 0 {
            _ = try r.readInteger("PartId mask", as: UInt32.self)
            partId = try r.readString("PartId")
        }
        for what in ["InternalRecipeId", "InternalConfigurationId"] {
            _ = try r.readInteger("\(what) mask", as: UInt32.self)
            _ = try r.readString(what)
        }
        _ = try r.readString("JobId")
        creationTime = try r.read()
        let contents: [Variant] = mask & 1 << 8 != 0 ? try r.readArray("ResultContent") : []
        guard case .scalar(.string(let text?))? = contents.first else { throw r.invalid("ResultContent", at: r.offset, "no JSON string") }
        content = text
    }
}


/// One endpoint's security: a policy and a mode (None with None).
public struct EndpointSecurity: Hashable, Sendable {
    public var policy: SecurityPolicy
    public var mode: MessageSecurityMode

    public init(policy: SecurityPolicy, mode: MessageSecurityMode) {
        self.policy = policy
        self.mode = mode
    }

    /// Higher for stronger protection, so a client choosing by level picks encryption.
    var securityLevel: UInt8 {
        let base: UInt8 = mode == .signAndEncrypt ? 20 : mode == .sign ? 10 : 0
        return policy == .none ? 0 : base + (policy == .aes128Sha256RsaOaep ? 2 : 1)
    }
}
