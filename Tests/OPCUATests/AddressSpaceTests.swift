import Foundation
import NIOCore
import Testing
@testable import OPCUA

private func activated(_ login: (inout ServiceClient) throws -> Void = { try $0.activate() }) throws -> ServiceClient {
    var client = ServiceClient()
    _ = try client.createSession()
    try login(&client)
    return client
}

@Suite struct AddressSpaceTests {
    @Test func theStandardNodeSetsLoad() throws {
        let space = standardSpace
        #expect(space.namespaces.first == "http://opcfoundation.org/UA/")
        #expect(space.namespaces.contains(MachineVision.namespaceUri))
        #expect(space[.server]?.browseName == QualifiedName(name: "Server"))
        #expect(space[.serverStatus]?.dataType == .serverStatusDataType)
        let mv = UInt16(try #require(space.namespaces.firstIndex(of: MachineVision.namespaceUri)))
        let visionSystemType = try #require(space[NodeId(namespaceIndex: mv, numeric: 1003)])
        #expect(visionSystemType.browseName == QualifiedName(namespaceIndex: mv, name: "VisionSystemType"))
        #expect(visionSystemType.nodeClass == .objectType)
        // Inverse references are completed: Objects knows its parent, Root.
        #expect(space[.objectsFolder]?.references.contains(Reference(.organizes, isForward: false, .rootFolder)) == true)
        // ServerState's EnumStrings came with its value.
        #expect(space[NodeId(numeric: 7612)]?.value.map { if case .array(.localizedText, let e, _) = $0 { e.count } else { 0 } } == 8)
    }

    @Test func browseObjectsFindsTheServerAndTheCamera() throws {
        var client = try activated()
        let response = try client.call(BrowseRequest(requestHeader: client.header, nodesToBrowse: [
            BrowseDescription(nodeId: .objectsFolder, referenceTypeId: .hierarchicalReferences),
            BrowseDescription(nodeId: NodeId(numeric: 999_999)),
        ]), BrowseResponse.self)
        let names = response.results[0].references.compactMap(\.browseName.name)
        #expect(names.contains("Server"))
        #expect(names.contains("CAM-07"))
        let camera = try #require(response.results[0].references.first { $0.browseName.name == "CAM-07" })
        let mv = UInt16(try #require(client.core.addressSpace.namespaces.firstIndex(of: MachineVision.namespaceUri)))
        #expect(camera.typeDefinition == ExpandedNodeId(NodeId(namespaceIndex: mv, numeric: 1003)))
        #expect(camera.nodeClass == .object)
        #expect(response.results[1].statusCode == .badNodeIdUnknown)
    }

    @Test func browseNextPagesThroughAContinuationPoint() throws {
        var client = try activated()
        let first = try client.call(BrowseRequest(requestHeader: client.header, requestedMaxReferencesPerNode: 2,
                                                  nodesToBrowse: [BrowseDescription(nodeId: .server)]), BrowseResponse.self).results[0]
        #expect(first.references.count == 2)
        let point = try #require(first.continuationPoint)
        var seen = first.references
        var next: [UInt8]? = point
        var pages = 1
        while let p = next, pages < 100 {
            let page = try client.call(BrowseNextRequest(requestHeader: client.header, continuationPoints: [p]), BrowseNextResponse.self).results[0]
            #expect(page.statusCode == .good)
            seen += page.references
            next = page.continuationPoint
            pages += 1
        }
        let all = try client.call(BrowseRequest(requestHeader: client.header, nodesToBrowse: [BrowseDescription(nodeId: .server)]), BrowseResponse.self)
        #expect(all.results[0].continuationPoint == nil)
        #expect(seen == all.results[0].references)
        // A used point is gone; a released one too.
        let again = try client.call(BrowseNextRequest(requestHeader: client.header, continuationPoints: [point]), BrowseNextResponse.self)
        #expect(again.results[0].statusCode == .badContinuationPointInvalid)
        let held = try client.call(BrowseRequest(requestHeader: client.header, requestedMaxReferencesPerNode: 1,
                                                 nodesToBrowse: [BrowseDescription(nodeId: .server)]), BrowseResponse.self).results[0].continuationPoint
        let released = try client.call(BrowseNextRequest(requestHeader: client.header, releaseContinuationPoints: true, continuationPoints: [held]),
                                       BrowseNextResponse.self)
        #expect(released.results[0].statusCode == .good && released.results[0].references.isEmpty)
        #expect(try client.call(BrowseNextRequest(requestHeader: client.header, continuationPoints: [held]), BrowseNextResponse.self)
            .results[0].statusCode == .badContinuationPointInvalid)
    }

    @Test func continuationPointsAreBoundedPerSession() throws {
        var client = try activated()
        let description = BrowseDescription(nodeId: .server)
        let many = Array(repeating: description, count: 17)
        let results = try client.call(BrowseRequest(requestHeader: client.header, requestedMaxReferencesPerNode: 1, nodesToBrowse: many),
                                      BrowseResponse.self).results
        #expect(results.prefix(16).allSatisfy { $0.continuationPoint != nil })
        #expect(results[16].statusCode == .badNoContinuationPoints)
    }

    @Test func translateBrowsePaths() throws {
        var client = try activated()
        let own = UInt16(try #require(client.core.addressSpace.namespaces.firstIndex(of: "urn:millwright:test")))
        let mv = UInt16(try #require(client.core.addressSpace.namespaces.firstIndex(of: MachineVision.namespaceUri)))
        let response = try client.call(TranslateBrowsePathsRequest(requestHeader: client.header, browsePaths: [
            BrowsePath(startingNode: .objectsFolder, elements: [RelativePathElement(targetName: QualifiedName(namespaceIndex: own, name: "CAM-07")),
                                                                RelativePathElement(targetName: QualifiedName(namespaceIndex: own, name: "RejectPart"))]),
            BrowsePath(startingNode: .objectsFolder, elements: [RelativePathElement(targetName: QualifiedName(namespaceIndex: own, name: "CAM-07")),
                                                                RelativePathElement(targetName: QualifiedName(namespaceIndex: mv, name: "ResultManagement")),
                                                                RelativePathElement(targetName: QualifiedName(namespaceIndex: mv, name: "Results"))]),
            BrowsePath(startingNode: .objectsFolder, elements: [RelativePathElement(targetName: QualifiedName(name: "Nope"))]),
            BrowsePath(startingNode: .objectsFolder, elements: []),
        ]), TranslateBrowsePathsResponse.self)
        #expect(response.results[0].targets.map(\.targetId) == [ExpandedNodeId(NodeId(namespaceIndex: own, .string("CAM-07.RejectPart")))])
        #expect(response.results[1].targets.count == 1)
        #expect(response.results[2].statusCode == .badNoMatch)
        #expect(response.results[3].statusCode == .badNothingToDo)
    }

    @Test func readServerStatusAndAttributes() throws {
        var client = try activated()
        #expect(try client.read(.serverStatusCurrentTime).value == .scalar(.dateTime(DateTime(unixNanoseconds: 1_750_000_000_000_000_000))))
        #expect(try client.read(.serverStatusState).value == .scalar(.int32(0)))
        guard case .array(.string, let namespaces, _)? = try client.read(.namespaceArray).value else { Issue.record("no NamespaceArray"); return }
        #expect(namespaces.first == .string("http://opcfoundation.org/UA/"))
        #expect(namespaces.contains(.string(MachineVision.namespaceUri)))
        guard case .scalar(.extensionObject(let status))? = try client.read(.serverStatus).value else { Issue.record("no ServerStatus"); return }
        #expect(status.typeId == .serverStatusEncodingDefaultBinary)
        #expect(try client.read(.server, .browseName).value == .scalar(.qualifiedName(QualifiedName(name: "Server"))))
        #expect(try client.read(.server, .nodeClass).value == .scalar(.int32(NodeClass.object.rawValue)))
        #expect(try client.read(.server, .value).status == .badAttributeIdInvalid)
        #expect(try client.read(.server, .valueRank).status == .badAttributeIdInvalid)
        #expect(try client.read(NodeId(numeric: 999_999)).status == .badNodeIdUnknown)
        let bad = ReadValueId(nodeId: .server, attributeId: .nodeId)
        var request = ReadRequest(requestHeader: client.header, nodesToRead: [bad])
        request.nodesToRead[0].attributeId = 99
        #expect(try client.call(request, ReadResponse.self).results[0].status == .badAttributeIdInvalid)
        request.timestampsToReturn = 7
        #expect(faultStatus { _ = try client.call(request, ReadResponse.self) } == .badTimestampsToReturnInvalid)
    }

    @Test func onlyAnOperatorResetsRejectPart() throws {
        var op = try activated { try $0.login("line", "s3cret") }
        let rejectPart = op.core.addVisionSystem(camera: "CAM-07")
        op.core.setRejectPart(camera: "CAM-07", true)
        func write(_ client: inout ServiceClient, _ value: Variant, node: NodeId = rejectPart) throws -> StatusCode {
            try client.call(WriteRequest(requestHeader: client.header, nodesToWrite: [WriteValue(nodeId: node, value: DataValue(value: value))]),
                            WriteResponse.self).results[0]
        }
        #expect(try op.read(rejectPart, .userAccessLevel).value == .scalar(.byte(3)))
        #expect(try write(&op, .scalar(.boolean(true))) == .badWriteNotSupported)
        #expect(try write(&op, .scalar(.int32(0))) == .badTypeMismatch)
        #expect(try write(&op, .scalar(.boolean(false)), node: .serverStatusState) == .badNotWritable)
        #expect(op.core.rejectPart(camera: "CAM-07") == true)
        let reset = op.core.handle(try WriteRequest(requestHeader: op.header, nodesToWrite: [
            WriteValue(nodeId: rejectPart, value: DataValue(value: .scalar(.boolean(false)))),
        ]).encodedMessage(), channelId: 1, at: Moment.now())
        #expect(reset.effects == [.rejectPartReset(camera: "CAM-07", user: "line")])
        #expect(op.core.rejectPart(camera: "CAM-07") == false)
        #expect(try op.read(rejectPart).value == .scalar(.boolean(false)))

        for var other in [try activated(), try activated { try $0.login("watcher", "look") }] {
            other.core.setRejectPart(camera: "CAM-07", true)
            #expect(try other.read(rejectPart, .userAccessLevel).value == .scalar(.byte(1)))
            #expect(try write(&other, .scalar(.boolean(false))) == .badUserAccessDenied)
            #expect(other.core.rejectPart(camera: "CAM-07") == true)
        }
    }
}

@Suite struct NodeSetLoaderTests {
    private func load(_ xml: String, limits: NodeSetLimits = NodeSetLimits()) throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nodeset-\(UUID().uuidString).xml")
        try Data(xml.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        var space = AddressSpace()
        try space.load(nodeSet: url, limits: limits)
    }

    @Test func damagedFilesFailWithTheirLine() {
        #expect(throws: NodeSetError.self) { try load("<UANodeSet>\n<UAObject NodeId=\"i=1\" BrowseName=\"A\">\n</UANodeSet>") }
        #expect(throws: NodeSetError.self) { try load("<UANodeSet><UAObject NodeId=\"i=1\" BrowseName=\"A\">") }
        #expect(throws: NodeSetError.self) { try load("<UANodeSet><UAObject NodeId=\"x=1\" BrowseName=\"A\"/></UANodeSet>") }
        // A node in a namespace the file does not declare.
        #expect(throws: NodeSetError.self) { try load("<UANodeSet><UAObject NodeId=\"ns=3;i=1\" BrowseName=\"A\"/></UANodeSet>") }
    }

    @Test func limitsHold() throws {
        var limits = NodeSetLimits()
        limits.maxNodes = 2
        let three = "<UANodeSet>" + (1...3).map { "<UAObject NodeId=\"i=\($0)\" BrowseName=\"A\"/>" }.joined() + "</UANodeSet>"
        #expect(throws: NodeSetError.self) { try load(three, limits: limits) }
        try load(three)
        limits = NodeSetLimits()
        limits.maxDepth = 8
        #expect(throws: NodeSetError.self) { try load(String(repeating: "<a>", count: 20) + String(repeating: "</a>", count: 20), limits: limits) }
        limits = NodeSetLimits()
        limits.maxFileBytes = 10
        #expect(throws: NodeSetError.self) { try load(three, limits: limits) }
    }
}

@Suite struct ResultTests {
    @Test func theLastHundredResultsAreKept() throws {
        var client = ServiceClient()
        _ = try client.createSession()
        try client.activate()
        let typeNodesBefore = client.core.addressSpace.nodes.count
        for i in 0..<101 {
            client.core.addResult(camera: "CAM-07", VisionResult(resultId: "d-\(i)", rejected: i % 2 == 0, simulated: false,
                                                                 creationTime: DateTime(ticks: Int64(i + 1)), content: "{\"n\":\(i)}", partId: i == 100 ? "P-1" : nil))
        }
        let held = client.core.results(camera: "CAM-07")
        #expect(held.count == 100)
        #expect(client.core.addressSpace.nodes.count == typeNodesBefore + 100)
        let own = held[0].namespaceIndex
        #expect(held.first == NodeId(namespaceIndex: own, .string("CAM-07.ResultManagement.Results.d-1")))
        // The ResultType node keeps no reference to the result that went.
        let mv = UInt16(try #require(client.core.addressSpace.namespaces.firstIndex(of: MachineVision.namespaceUri)))
        let resultType = try #require(client.core.addressSpace[NodeId(namespaceIndex: mv, numeric: 2002)])
        #expect(!resultType.references.contains { $0.target == NodeId(namespaceIndex: own, .string("CAM-07.ResultManagement.Results.d-0")) })
        // Browsing the folder finds them; the value is a ResultDataType that reads back.
        let folder = NodeId(namespaceIndex: own, .string("CAM-07.ResultManagement.Results"))
        let browsed = try client.call(BrowseRequest(requestHeader: client.header, nodesToBrowse: [BrowseDescription(nodeId: folder, referenceTypeId: .hasComponent)]),
                                      BrowseResponse.self)
        #expect(browsed.results[0].references.count == 100)
        guard case .scalar(.extensionObject(let value))? = try client.read(try #require(held.last)).value else { Issue.record("no value"); return }
        #expect(value.typeId == NodeId(namespaceIndex: mv, numeric: 5018))
        let result = try #require(try value.decodeBody(VisionResult.self, encodingId: value.typeId, limits: DecodingLimits()))
        #expect(result == VisionResult(resultId: "d-100", rejected: true, simulated: false, creationTime: DateTime(ticks: 101), content: "{\"n\":100}", partId: "P-1"))
    }
}
