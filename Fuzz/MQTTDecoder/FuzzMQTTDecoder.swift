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

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzMQTTDecoder_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzMQTTDecoder(data, size)
    }
}
