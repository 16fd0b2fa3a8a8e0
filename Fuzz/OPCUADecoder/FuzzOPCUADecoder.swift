import NIOCore
import OPCUA

/// libFuzzer entry: any bytes from a client must decode or fail with a typed error, never trap:
/// as a Variant, a DataValue, a DiagnosticInfo, and as a UA-TCP byte stream.
/// Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOPCUADecoder(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = ByteBuffer(bytes: UnsafeRawBufferPointer(start: start, count: count))
    let limits = DecodingLimits(maxStringLength: 4096, maxArrayLength: 1024, maxNestingDepth: 16)
    // What decodes must encode again.
    if let v = try? Variant.decode(bytes, limits: limits) { _ = try? v.encoded() }
    if let v = try? DataValue.decode(bytes, limits: limits) { _ = try? v.encoded() }
    if let v = try? DiagnosticInfo.decode(bytes, limits: limits) { _ = try? v.encoded() }
    if let v = try? ExpandedNodeId.decode(bytes, limits: limits) { _ = try? v.encoded() }
    var assembler = ChunkAssembler(limits: ChunkLimits(bufferSize: 8192, maxMessageSize: 65_536, maxChunkCount: 8))
    var security = SecurityPolicyNone()
    assembler.append(bytes)
    while let message = try? assembler.next(security: &security) {
        if case .transport(let t) = message { _ = try? t.encoded() }
    }
    return 0
}

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzOPCUADecoder_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzOPCUADecoder(data, size)
    }
}
