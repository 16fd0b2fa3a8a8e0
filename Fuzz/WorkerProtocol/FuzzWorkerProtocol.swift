import Capture
import Foundation

/// libFuzzer entry for what a detector worker writes: arbitrary bytes split into lines
/// (`WorkerLines`) must give the same lines fed at once or in pieces (the first byte picks the
/// piece size), never a line over the bound; every line decodes or is refused as garbage,
/// never traps; an answer's findings are named, inside the frame, confident enough and at most
/// the limit. Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkerProtocolEntry(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard count > 0 else { return 0 }
    let bytes = Data(UnsafeRawBufferPointer(start: start, count: count))
    let piece = Int(bytes[0] % 16) + 1, stream = bytes.dropFirst()
    var whole = WorkerLines(maxBytes: 1_024), pieces = WorkerLines(maxBytes: 1_024)
    let once = whole.feed(Data(stream))
    var chunked: [WorkerLines.Event] = []
    var i = stream.startIndex
    while i < stream.endIndex {
        let end = min(i + piece, stream.endIndex)
        chunked += pieces.feed(Data(stream[i..<end]))
        i = end
    }
    precondition(once == chunked, "fed at once: \(once.count) events; in pieces of \(piece): \(chunked.count)")
    let threshold = Double(bytes[0]) / 255
    for case .line(let line) in once {
        precondition(line.count <= 1_024, "a line of \(line.count) bytes passed a bound of 1,024")
        guard case .answer(_, let detections)? = try? WorkerProtocol.decode(line) else { continue }
        let found = WorkerProtocol.findings(detections, labels: ["crack", "dent"], threshold: threshold, frameWidth: 1920, frameHeight: 1080, limit: 8)
        precondition(found.kept.count <= 8, "\(found.kept.count) findings over a limit of 8")
        for f in found.kept {
            precondition(f.confidence >= threshold && !f.defectClass.isEmpty, "kept \(f)")
            precondition(f.x >= 0 && f.y >= 0 && f.width > 0 && f.height > 0 && f.x + f.width <= 1920 && f.y + f.height <= 1080, "a box outside the frame: \(f)")
        }
    }
    return 0
}

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzWorkerProtocol_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzWorkerProtocolEntry(data, size)
    }
}
