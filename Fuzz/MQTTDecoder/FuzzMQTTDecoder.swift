import MQTT
import NIOCore

/// libFuzzer entry: any bytes from a broker must decode or fail with a reason code, never trap.
/// Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMQTTDecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    for version in [MQTTProtocolVersion.v5, .v311] {
        var buffer = ByteBuffer(bytes: bytes)
        // Decode packets until the input is used up or one fails; either is fine.
        while buffer.readableBytes > 0 {
            guard let packet = try? MQTTPacketCodec.decode(from: &buffer, version: version, maximumPacketSize: 1 << 20) else { break }
            // What decodes must encode again.
            var out = ByteBuffer()
            _ = try? MQTTPacketCodec.encode(packet, version: version, into: &out)
        }
    }
    return 0
}
