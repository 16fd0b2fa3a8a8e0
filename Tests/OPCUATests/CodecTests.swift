import NIOCore
import Testing
@testable import OPCUA

func bytes<T: OPCUABinaryCodable>(_ value: T) throws -> [UInt8] {
    Array(try value.encoded().readableBytesView)
}

func decoded<T: OPCUABinaryCodable>(_ type: T.Type, _ bytes: [UInt8], limits: DecodingLimits = DecodingLimits()) throws -> T {
    try T.decode(ByteBuffer(bytes: bytes), limits: limits)
}

func roundTrip<T: OPCUABinaryCodable & Equatable>(_ value: T) throws {
    let encoded = try bytes(value)
    #expect(try decoded(T.self, encoded) == value, "\(value)")
}

let sampleGuid = Guid(data1: 0x7296_2B91, data2: 0xFA75, data3: 0x4AE6, data4: 0x8D28_B404_DC7D_AF63)

/// One value of every built-in type, for round trips, truncation and the fuzz seeds.
let everyScalar: [Scalar] = [
    .boolean(true), .sByte(-128), .byte(255), .int16(.min), .uInt16(.max), .int32(-1), .uInt32(.max), .int64(.min), .uInt64(.max),
    .float(-0.5), .double(.infinity), .string("Grüße"), .string(nil), .string(""), .dateTime(DateTime(ticks: 133_000_000_000_000_000)),
    .guid(sampleGuid), .byteString([0, 1, 2]), .byteString(nil), .xmlElement(Array("<a/>".utf8)),
    .nodeId(NodeId(namespaceIndex: 2, .string("Cam-1"))), .expandedNodeId(ExpandedNodeId(NodeId(numeric: 5), namespaceURI: "urn:x", serverIndex: 3)),
    .statusCode(.badDecodingError), .qualifiedName(QualifiedName(namespaceIndex: 1, name: "RejectPart")),
    .localizedText(LocalizedText(locale: "en", text: "Scratch")),
    .extensionObject(ExtensionObject(typeId: NodeId(numeric: 446), body: .binary([9, 8, 7]))),
    .dataValue(DataValue(value: .scalar(.int32(7)), status: .good, sourceTimestamp: .minimum, serverTimestamp: .maximum)),
    .diagnosticInfo(DiagnosticInfo(symbolicId: 1, additionalInfo: "x", innerDiagnosticInfo: DiagnosticInfo(locale: 2))),
]

@Suite struct BuiltInTypeTests {
    @Test func everyScalarRoundTripsInAVariant() throws {
        for scalar in everyScalar where scalar.type != .variant {
            try roundTrip(Variant.scalar(scalar))
        }
    }

    @Test func everyTypeRoundTripsAsAnArrayAndAMatrix() throws {
        for type in BuiltInType.allCases where type != .variant {
            let elements = everyScalar.filter { $0.type == type }
            try roundTrip(Variant.array(type: type, elements: elements))
            try roundTrip(Variant.array(type: type, elements: [], dimensions: [0, 3]))
        }
        let matrix = (0..<6).map { Scalar.int16(Int16($0)) }
        try roundTrip(Variant.array(type: .int16, elements: matrix, dimensions: [2, 3]))
    }

    @Test func nestedVariantsRoundTrip() throws {
        let inner = Variant.array(type: .variant, elements: [.variant(.scalar(.string("a"))), .variant(.null)])
        let outer = Variant.array(type: .variant, elements: [.variant(inner), .variant(.scalar(.dataValue(DataValue(value: inner))))])
        try roundTrip(outer)
    }

    @Test func nullAndEmptyStringsStayDistinct() throws {
        #expect(try bytes(Variant.scalar(.string(nil))) == [12, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(try bytes(Variant.scalar(.string(""))) == [12, 0, 0, 0, 0])
        #expect(try decoded(Variant.self, [12, 0xFF, 0xFF, 0xFF, 0xFF]) == .scalar(.string(nil)))
        #expect(try decoded(Variant.self, [12, 0, 0, 0, 0]) == .scalar(.string("")))
    }

    @Test func nanAndSignedZeroKeepTheirBits() throws {
        for value in [Float.nan, -Float.nan, Float(bitPattern: 0x7FA0_0001), -0.0, .infinity] {
            guard case .scalar(.float(let back)) = try decoded(Variant.self, bytes(Variant.scalar(.float(value)))) else {
                Issue.record("not a float")
                continue
            }
            #expect(back.bitPattern == value.bitPattern)
        }
        for value in [Double.nan, Double(bitPattern: 0x7FF8_0000_0000_0001), -0.0, -.infinity, .leastNonzeroMagnitude] {
            guard case .scalar(.double(let back)) = try decoded(Variant.self, bytes(Variant.scalar(.double(value)))) else {
                Issue.record("not a double")
                continue
            }
            #expect(back.bitPattern == value.bitPattern)
        }
    }

    @Test func dateTimeClampsAtBothEnds() throws {
        #expect(DateTime(ticks: -5) == .minimum)
        #expect(DateTime(ticks: DateTime.latestTicks) == .maximum)
        #expect(DateTime(ticks: DateTime.latestTicks - 1).ticks == DateTime.latestTicks - 1)
        #expect(try bytes(DateTime.maximum) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        // Decoding clamps too: a negative value is the minimum, one past the latest date the maximum.
        #expect(try decoded(DateTime.self, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) == .minimum)
        #expect(try decoded(DateTime.self, try bytes(DateTime(ticks: DateTime.latestTicks - 1))).ticks == DateTime.latestTicks - 1)
        var writer = BinaryWriter()
        writer.writeInteger(DateTime.latestTicks + 1)
        #expect(try DateTime.decode(writer.buffer) == .maximum)
        #expect(DateTime(unixNanoseconds: 0).ticks == DateTime.unixEpochTicks)
        // Int64 nanoseconds span 1677–2262, inside DateTime's range.
        #expect(DateTime(unixNanoseconds: .min).ticks > 0)
        #expect(DateTime(unixNanoseconds: .max).ticks < DateTime.latestTicks)
    }

    @Test func nodeIdsTakeTheSmallestForm() throws {
        // Part 6 §5.2.2.9: two-byte, four-byte, then numeric.
        #expect(try bytes(NodeId(numeric: 1)) == [0x00, 0x01])
        #expect(try bytes(NodeId(numeric: 255)) == [0x00, 0xFF])
        #expect(try bytes(NodeId(namespaceIndex: 5, numeric: 1025)) == [0x01, 0x05, 0x01, 0x04])
        #expect(try bytes(NodeId(numeric: 256)) == [0x01, 0x00, 0x00, 0x01])
        #expect(try bytes(NodeId(namespaceIndex: 256, numeric: 1)) == [0x02, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00])
        #expect(try bytes(NodeId(numeric: 65_536)) == [0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00])
        // Part 6 Table 13's example: ns=1, s="Hot水".
        #expect(try bytes(NodeId(namespaceIndex: 1, .string("Hot水"))) == [0x03, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00, 0x48, 0x6F, 0x74, 0xE6, 0xB0, 0xB4])
        #expect(try bytes(NodeId(namespaceIndex: 1, .opaque([0xAB]))) == [0x05, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0xAB])
        // The non-minimal forms still decode.
        #expect(try decoded(NodeId.self, [0x02, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]) == NodeId(numeric: 1))
        for id in [NodeId(numeric: 0), NodeId(namespaceIndex: 7, .guid(sampleGuid)), NodeId(namespaceIndex: 9, .opaque([])), NodeId(namespaceIndex: 65_535, numeric: .max)] {
            try roundTrip(id)
        }
    }

    @Test func guidUsesTheMixedEndianLayout() throws {
        // Part 6 §5.2.2.6's example: {72962B91-FA75-4AE6-8D28-B404DC7DAF63}.
        #expect(try bytes(sampleGuid) == [0x91, 0x2B, 0x96, 0x72, 0x75, 0xFA, 0xE6, 0x4A, 0x8D, 0x28, 0xB4, 0x04, 0xDC, 0x7D, 0xAF, 0x63])
        #expect(sampleGuid.description == "72962B91-FA75-4AE6-8D28-B404DC7DAF63")
        try roundTrip(sampleGuid)
    }

    @Test func expandedNodeIdFlags() throws {
        #expect(try bytes(ExpandedNodeId(NodeId(numeric: 1))) == [0x00, 0x01])
        #expect(try bytes(ExpandedNodeId(NodeId(numeric: 1), serverIndex: 2)) == [0x40, 0x01, 0x02, 0x00, 0x00, 0x00])
        // With a URI the index is written as 0.
        #expect(try bytes(ExpandedNodeId(NodeId(namespaceIndex: 3, numeric: 1), namespaceURI: "u"))
                == [0x80, 0x01, 0x01, 0x00, 0x00, 0x00, 0x75])
        try roundTrip(ExpandedNodeId(NodeId(namespaceIndex: 0, .string("s")), namespaceURI: "urn:a", serverIndex: 9))
        // A NodeId field must not carry the ExpandedNodeId flags.
        #expect(throws: OPCUADecodeError.self) { try decoded(NodeId.self, [0x40, 0x01, 0x02, 0x00, 0x00, 0x00]) }
    }

    @Test func localizedTextAndDataValueMasks() throws {
        #expect(try bytes(LocalizedText(text: nil)) == [0x00])
        #expect(try bytes(LocalizedText(text: "A")) == [0x02, 0x01, 0x00, 0x00, 0x00, 0x41])
        #expect(try bytes(DataValue()) == [0x00])
        #expect(try bytes(DataValue(value: .scalar(.boolean(true)), sourcePicoseconds: 3)) == [0x11, 0x01, 0x01, 0x03, 0x00])
        try roundTrip(DataValue(value: .null, status: .badTcpInternalError, sourceTimestamp: DateTime(ticks: 1), sourcePicoseconds: 9_999,
                                serverTimestamp: DateTime(ticks: 2), serverPicoseconds: 1))
        #expect(throws: OPCUADecodeError.self) { try decoded(LocalizedText.self, [0x04]) }
    }

    @Test func extensionObjectBodies() throws {
        try roundTrip(ExtensionObject(typeId: NodeId(namespaceIndex: 2, numeric: 5001), body: .none))
        try roundTrip(ExtensionObject(typeId: .openSecureChannelRequestEncodingDefaultBinary, body: .xml(Array("<x/>".utf8))))
        let wrapped = try ExtensionObject(binaryEncodingId: NodeId(numeric: 1), QualifiedName(name: "q"))
        #expect(try bytes(wrapped) == [0x00, 0x01, 0x01, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x71])
        #expect(throws: OPCUADecodeError.self) { try decoded(ExtensionObject.self, [0x00, 0x01, 0x03]) }
    }

    @Test func diagnosticInfoWritesLocaleBeforeLocalizedText() throws {
        let info = DiagnosticInfo(locale: 1, localizedText: 2, innerStatusCode: .bad)
        #expect(try bytes(info) == [0x2C, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80])
        try roundTrip(DiagnosticInfo(symbolicId: -1, namespaceURI: 4, innerDiagnosticInfo: DiagnosticInfo(innerDiagnosticInfo: DiagnosticInfo())))
    }

    @Test func encoderRefusesInconsistentArrays() {
        #expect(throws: OPCUAEncodeError.self) { try Variant.array(type: .int32, elements: [.int16(1)]).encoded() }
        #expect(throws: OPCUAEncodeError.self) { try Variant.array(type: .int32, elements: [.int32(1)], dimensions: [2]).encoded() }
        #expect(throws: OPCUAEncodeError.self) { try Variant.scalar(.variant(.null)).encoded() }
    }

    @Test func statusCodesCarryTheirNames() {
        #expect(StatusCode.badTcpMessageTooLarge.rawValue == 0x8080_0000)
        #expect(StatusCode.badProtocolVersionUnsupported.rawValue == 0x80BE_0000)
        #expect(StatusCode.badTcpMessageTooLarge.description == "BadTcpMessageTooLarge (0x80800000)")
        #expect(StatusCode.good.isGood && StatusCode.badDecodingError.isBad)
    }
}
