import Foundation
import NIOCore
import OPCUA

/// A server identity for the secured policies, made once in a temporary PKI folder.
let identity: ServerIdentity = {
    let dir = NSTemporaryDirectory() + "/millwright-fuzz-pki-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try! PKIDirectory(path: dir).serverIdentity(applicationUri: "urn:fuzz", hosts: ["127.0.0.1"]).identity
}()

let securedOffer = SecurityOffer(secured: [.basic256Sha256: [.sign, .signAndEncrypt], .aes128Sha256RsaOaep: [.sign, .signAndEncrypt]],
                                 identity: identity, trust: { _ in nil })

/// libFuzzer entry: any bytes from a client must decode or fail with a typed error, never trap:
/// as a Variant, a DataValue, a DiagnosticInfo, and as a UA-TCP byte stream, under None and
/// under the secured policies (the asymmetric security header and its certificate, encrypted
/// OPN chunks). And the symmetric layer: the input sealed as a MSG chunk in Sign and in
/// SignAndEncrypt must open to itself, and with any one byte changed must be refused.
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
    var securedAssembler = ChunkAssembler(limits: ChunkLimits(bufferSize: 8192, maxMessageSize: 65_536, maxChunkCount: 8))
    var serverSecurity = ServerChunkSecurity(offer: securedOffer)
    securedAssembler.append(bytes)
    while (try? securedAssembler.next(security: &serverSecurity)) != nil {}
    roundTripSymmetric(bytes, mode: .sign)
    roundTripSymmetric(bytes, mode: .signAndEncrypt)
    return 0
}

/// Seals `bytes` as one MSG chunk and opens it again. With the same nonce on both sides the
/// client's keys equal the server's, so one ``SecuredChunks`` can open what another sealed.
func roundTripSymmetric(_ bytes: ByteBuffer, mode: MessageSecurityMode) {
    let nonce = [UInt8](repeating: 5, count: 32)
    func layer() -> SecuredChunks {
        var s = SecuredChunks(policy: mode == .sign ? .basic256Sha256 : .aes128Sha256RsaOaep, identity: identity, offeredModes: [mode], trust: { _ in nil })
        try! s.acceptMode(mode, renewal: false)
        try! s.installToken(1, clientNonce: nonce, serverNonce: nonce)
        s.sendUnder(tokenId: 1)
        return s
    }
    var sealer = layer()
    let body = bytes.getSlice(at: bytes.readerIndex, length: min(bytes.readableBytes, 4000))!
    let chunk = try! sealer.seal(type: .message, chunkType: .final, secureChannelId: 1, requestId: 7, body: body)
    func open(_ chunk: ByteBuffer) -> ByteBuffer? {
        var opener = layer()
        var assembler = ChunkAssembler(limits: ChunkLimits(bufferSize: 8192, maxMessageSize: 0, maxChunkCount: 0))
        assembler.append(chunk)
        guard case .secure(_, _, 7, 1, let opened)? = try? assembler.next(security: &opener) else { return nil }
        return opened
    }
    precondition(open(chunk) == body, "a sealed chunk did not open to its body")
    // One changed byte, where the input's first byte says: refused, whatever it hit.
    guard let pick = bytes.getInteger(at: bytes.readerIndex, as: UInt16.self) else { return }
    var tampered = chunk
    let index = tampered.readerIndex + Int(pick) % tampered.readableBytes
    tampered.setInteger(tampered.getInteger(at: index, as: UInt8.self)! ^ 0x5a, at: index)
    precondition(open(tampered) == nil, "a chunk with a changed byte was accepted")
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
