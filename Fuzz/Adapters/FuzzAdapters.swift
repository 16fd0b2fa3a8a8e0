import Foundation
import Ingest

/// libFuzzer entry for every vision-format adapter and the native schema.
/// Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAdapterEntry(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    fuzzAdapters(Data(bytes: start, count: count))
    return 0
}
