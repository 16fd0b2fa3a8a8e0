import Capture
import Foundation

/// libFuzzer entry for `JPEGSplitter`: arbitrary bytes must never trap, never make it hold
/// more than its bound, and give the same frames and drops whether fed at once or in pieces
/// (the first byte picks the piece size). Every frame starts with SOI and ends with EOI.
/// Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJPEGSplitterEntry(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let piece = Int(bytes[0] % 16) + 1, stream = bytes.dropFirst()
    var whole = JPEGSplitter(maxFrameBytes: 512), pieces = JPEGSplitter(maxFrameBytes: 512)
    let once = whole.feed(stream)
    var chunked: [JPEGSplitter.Event] = []
    var i = stream.startIndex
    while i < stream.endIndex {
        let end = min(i + piece, stream.endIndex)
        chunked += pieces.feed(stream[i..<end])
        precondition(pieces.pendingBytes <= pieces.maxFrameBytes, "holds \(pieces.pendingBytes) bytes, over the bound")
        i = end
    }
    precondition(once == chunked, "fed at once: \(once); in pieces of \(piece): \(chunked)")
    for case .frame(let f) in once {
        precondition(f.count <= 512 && f.starts(with: [0xFF, 0xD8]) && f.suffix(2).elementsEqual([0xFF, 0xD9]), "bad frame \(Array(f))")
    }
    return 0
}

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzJPEGSplitter_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzJPEGSplitterEntry(data, size)
    }
}
