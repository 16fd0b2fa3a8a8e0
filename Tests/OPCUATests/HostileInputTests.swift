import NIOCore
import Testing
@testable import OPCUA

private func decodeError<T: OPCUABinaryCodable>(_ type: T.Type, _ bytes: [UInt8], limits: DecodingLimits = DecodingLimits()) -> OPCUADecodeError? {
    do {
        _ = try decoded(type, bytes, limits: limits)
        return nil
    } catch let error as OPCUADecodeError {
        return error
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}

/// An Int32 length field followed by nothing.
private func lengthOnly(_ typeByte: UInt8, _ length: Int32) -> [UInt8] {
    var writer = BinaryWriter()
    writer.writeInteger(typeByte)
    writer.writeInteger(length)
    return Array(writer.buffer.readableBytesView)
}

private func nestedVariants(_ depth: Int) -> Variant {
    var v = Variant.scalar(.int32(1))
    for _ in 0..<depth { v = .array(type: .variant, elements: [.variant(v)]) }
    return v
}

private func nestedDiagnostics(_ depth: Int) -> DiagnosticInfo {
    var d = DiagnosticInfo(symbolicId: 1)
    for _ in 0..<depth { d = DiagnosticInfo(innerDiagnosticInfo: d) }
    return d
}

@Suite struct HostileInputTests {
    @Test func everyPrefixOfEveryEncodingThrows() throws {
        var values: [Variant] = everyScalar.map { .scalar($0) }
        values.append(.array(type: .int16, elements: [.int16(1), .int16(2)], dimensions: [1, 2]))
        values.append(nestedVariants(3))
        for value in values {
            let full = try bytes(value)
            for length in 0..<full.count {
                #expect(decodeError(Variant.self, Array(full.prefix(length))) != nil, "\(value) cut to \(length) bytes decoded")
            }
        }
        let hello = try TransportMessage.hello(Hello(receiveBufferSize: 8192, sendBufferSize: 8192, maxMessageSize: 0, maxChunkCount: 0,
                                                     endpointURL: "opc.tcp://h:4840")).encoded()
        let body = Array(hello.readableBytesView.dropFirst(MessageHeader.size))
        for length in 0..<body.count {
            #expect(throws: OPCUADecodeError.self) { try TransportMessage.decode(.hello, body: ByteBuffer(bytes: body.prefix(length))) }
        }
    }

    @Test func trailingBytesAreRefused() {
        #expect(decodeError(NodeId.self, [0x00, 0x01, 0x00])?.statusCode == .badDecodingError)
    }

    @Test func hugeDeclaredLengthsThrowBeforeAllocating() {
        // Each claims gigabytes and delivers nothing: refused from the length field alone.
        let string = decodeError(Variant.self, lengthOnly(BuiltInType.string.rawValue, .max))
        #expect(string == .limitExceeded(what: "String", offset: 1, length: Int(Int32.max), limit: DecodingLimits().maxStringLength))
        #expect(string?.statusCode == .badEncodingLimitsExceeded)
        let array = decodeError(Variant.self, lengthOnly(BuiltInType.guid.rawValue | 0x80, 60_000))
        #expect(array == .truncated(what: "Variant array", offset: 5, needed: 960_000, remaining: 0))
        let overLimit = decodeError(Variant.self, lengthOnly(BuiltInType.byte.rawValue | 0x80, .max))
        #expect(overLimit?.statusCode == .badEncodingLimitsExceeded)
        #expect(decodeError(Variant.self, lengthOnly(BuiltInType.byteString.rawValue, -2)) == .invalidLength(what: "ByteString", offset: 1, length: -2))
        // Within the limit but beyond the bytes present.
        #expect(decodeError(Variant.self, lengthOnly(BuiltInType.string.rawValue, 1000)) == .truncated(what: "String", offset: 5, needed: 1000, remaining: 0))
    }

    @Test func matrixDimensionsMustMatchTheElements() throws {
        // Two Int32 elements, dimensions [2, -1] and [65536, 65536].
        var writer = BinaryWriter()
        writer.writeInteger(UInt8(BuiltInType.int32.rawValue | 0xC0))
        try writer.writeArray([Int32(1), 2]) { $0.writeInteger($1) }
        var negative = writer
        try negative.writeArray([Int32(2), -1]) { $0.writeInteger($1) }
        #expect(decodeError(Variant.self, Array(negative.buffer.readableBytesView)) != nil)
        try writer.writeArray([Int32(65_536), 65_536]) { $0.writeInteger($1) }
        #expect(decodeError(Variant.self, Array(writer.buffer.readableBytesView)) != nil)
    }

    @Test func deepNestingThrowsAtTheLimit() throws {
        let limits = DecodingLimits(maxNestingDepth: 10)
        // The outermost Variant is level 1: nine wrappers around a scalar make ten.
        #expect(try decoded(Variant.self, bytes(nestedVariants(9)), limits: limits) == nestedVariants(9))
        let variantError = decodeError(Variant.self, try bytes(nestedVariants(10)), limits: limits)
        guard case .nestingTooDeep(_, _, 10)? = variantError else {
            Issue.record("expected nestingTooDeep, got \(String(describing: variantError))")
            return
        }
        #expect(try decoded(DiagnosticInfo.self, bytes(nestedDiagnostics(9)), limits: limits) == nestedDiagnostics(9))
        #expect(decodeError(DiagnosticInfo.self, try bytes(nestedDiagnostics(10)), limits: limits)?.statusCode == .badEncodingLimitsExceeded)
        // DataValues inside Variants count too.
        var v = Variant.scalar(.byte(1))
        for _ in 0..<6 { v = .scalar(.dataValue(DataValue(value: v))) }
        #expect(decodeError(Variant.self, try bytes(v), limits: limits)?.statusCode == .badEncodingLimitsExceeded)
    }

    @Test func unboundedDepthFromAFewBytesIsRefused() {
        // 100,000 array-of-one-Variant headers: each level is 5 bytes, no recursion past the limit.
        var writer = BinaryWriter()
        for _ in 0..<100_000 {
            writer.writeInteger(UInt8(BuiltInType.variant.rawValue | 0x80))
            writer.writeInteger(Int32(1))
        }
        #expect(decodeError(Variant.self, Array(writer.buffer.readableBytesView))?.statusCode == .badEncodingLimitsExceeded)
    }

    @Test func malformedEncodingBytesAreNamedWithTheirOffset() {
        #expect(decodeError(Variant.self, [0x1A]) == .invalidValue(what: "Variant encoding mask", offset: 0, reason: "unknown built-in type 26"))
        #expect(decodeError(Variant.self, [0x40]) != nil)
        #expect(decodeError(Variant.self, [0x18, 0x00]) != nil)
        #expect(decodeError(Variant.self, [0x41, 0x01]) != nil)
        #expect(decodeError(NodeId.self, [0x06, 0x00]) == .invalidValue(what: "NodeId encoding", offset: 0, reason: "unknown encoding 6"))
        #expect(decodeError(Variant.self, [0x0C, 0x02, 0x00, 0x00, 0x00, 0xC3, 0x28])
                == .invalidValue(what: "String", offset: 1, reason: "not well-formed UTF-8"))
        #expect(decodeError(DataValue.self, [0x40]) != nil)
        #expect(decodeError(DiagnosticInfo.self, [0x80]) != nil)
    }
}
