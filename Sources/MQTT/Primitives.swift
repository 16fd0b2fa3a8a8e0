import NIOCore

/// Largest value a Variable Byte Integer can carry (4 bytes).
public let mqttMaxVariableByteInteger: Int = 268_435_455

/// Reads MQTT data types from a buffer holding exactly one packet's variable header and
/// payload. Running out of bytes is a Malformed Packet, never a trap.
struct PacketReader {
    var buffer: ByteBuffer

    init(_ buffer: ByteBuffer) { self.buffer = buffer }

    var readableBytes: Int { buffer.readableBytes }
    var isAtEnd: Bool { buffer.readableBytes == 0 }

    mutating func readByte(_ what: @autoclosure () -> String = "byte") throws -> UInt8 {
        guard let v = buffer.readInteger(as: UInt8.self) else { throw MQTTDecodeError.malformed("truncated \(what())") }
        return v
    }

    mutating func readUInt16(_ what: @autoclosure () -> String = "two byte integer") throws -> UInt16 {
        guard let v = buffer.readInteger(endianness: .big, as: UInt16.self) else { throw MQTTDecodeError.malformed("truncated \(what())") }
        return v
    }

    mutating func readUInt32(_ what: @autoclosure () -> String = "four byte integer") throws -> UInt32 {
        guard let v = buffer.readInteger(endianness: .big, as: UInt32.self) else { throw MQTTDecodeError.malformed("truncated \(what())") }
        return v
    }

    mutating func readVariableByteInteger(_ what: @autoclosure () -> String = "variable byte integer") throws -> Int {
        switch buffer.readMQTTVariableByteInteger() {
        case .value(let v): return v
        case .needMoreData: throw MQTTDecodeError.malformed("truncated \(what())")
        case .malformed: throw MQTTDecodeError.malformed("\(what()) longer than 4 bytes")
        }
    }

    mutating func readBinary(_ what: @autoclosure () -> String = "binary data") throws -> [UInt8] {
        let length = Int(try readUInt16("length of \(what())"))
        guard let bytes = buffer.readBytes(length: length) else { throw MQTTDecodeError.malformed("truncated \(what())") }
        return bytes
    }

    /// UTF-8 Encoded String: well-formed UTF-8 without U+0000 [MQTT-1.5.4-1/2].
    mutating func readString(_ what: @autoclosure () -> String = "string") throws -> String {
        let name = what()
        let bytes = try readBinary(name)
        return try validatedMQTTString(bytes, name)
    }

    mutating func readBytes(length: Int, _ what: @autoclosure () -> String) throws -> [UInt8] {
        guard let bytes = buffer.readBytes(length: length) else { throw MQTTDecodeError.malformed("truncated \(what())") }
        return bytes
    }

    /// Splits off the next `length` bytes as a sub-reader.
    mutating func readSlice(length: Int, _ what: @autoclosure () -> String) throws -> PacketReader {
        guard let slice = buffer.readSlice(length: length) else { throw MQTTDecodeError.malformed("\(what()) length exceeds packet") }
        return PacketReader(slice)
    }

    mutating func readRemaining() -> ByteBuffer {
        buffer.readSlice(length: buffer.readableBytes)!
    }
}

func validatedMQTTString(_ bytes: [UInt8], _ what: String) throws -> String {
    if bytes.contains(0) { throw MQTTDecodeError.malformed("\(what) contains U+0000") }
    guard let s = String(validating: bytes, as: UTF8.self) else {
        throw MQTTDecodeError.malformed("\(what) is not well-formed UTF-8")
    }
    return s
}

enum VariableByteIntegerResult: Equatable {
    case value(Int)
    case needMoreData
    case malformed
}

extension ByteBuffer {
    /// Reads a Variable Byte Integer; does not move the reader index unless a full value was read.
    mutating func readMQTTVariableByteInteger() -> VariableByteIntegerResult {
        var value = 0
        var multiplier = 1
        var index = readerIndex
        for i in 0..<4 {
            guard let byte = getInteger(at: index, as: UInt8.self) else { return .needMoreData }
            index += 1
            value += Int(byte & 0x7F) * multiplier
            if byte & 0x80 == 0 {
                // [MQTT-1.5.5-1] minimum number of bytes: a trailing zero byte is non-minimal.
                if i > 0 && byte == 0 { return .malformed }
                moveReaderIndex(forwardBy: i + 1)
                return .value(value)
            }
            multiplier *= 128
        }
        return .malformed
    }

    @discardableResult
    mutating func writeMQTTVariableByteInteger(_ value: Int) -> Int {
        precondition(value >= 0 && value <= mqttMaxVariableByteInteger, "variable byte integer out of range")
        var v = value
        var written = 0
        repeat {
            var byte = UInt8(v % 128)
            v /= 128
            if v > 0 { byte |= 0x80 }
            writeInteger(byte)
            written += 1
        } while v > 0
        return written
    }

    mutating func writeMQTTString(_ string: String, _ what: @autoclosure () -> String = "string") throws {
        let utf8 = Array(string.utf8)
        if utf8.contains(0) { throw MQTTError.invalidRequest(.malformedPacket, "\(what()) contains U+0000") }
        try writeMQTTBinary(utf8, what())
    }

    mutating func writeMQTTBinary(_ bytes: [UInt8], _ what: @autoclosure () -> String = "binary data") throws {
        guard bytes.count <= 0xFFFF else { throw MQTTError.invalidRequest(.malformedPacket, "\(what()) longer than 65535 bytes") }
        writeInteger(UInt16(bytes.count), endianness: .big)
        writeBytes(bytes)
    }
}

func variableByteIntegerSize(_ value: Int) -> Int {
    switch value {
    case ..<128: return 1
    case ..<16_384: return 2
    case ..<2_097_152: return 3
    default: return 4
    }
}
