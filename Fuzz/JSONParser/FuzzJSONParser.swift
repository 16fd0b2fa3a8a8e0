import Foundation
import MillwrightCore

/// libFuzzer entry for `JSONValue.parse`: arbitrary bytes must never trap, and whatever it
/// accepts must survive a canonical re-encoding unchanged and, where JSONDecoder reads it too
/// (it refuses some zeros with an exponent), have the value JSONDecoder reads.
/// Built only with MILLWRIGHT_FUZZ=1 (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSONParserEntry(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let data = Data(bytes: start, count: count)
    guard let value = try? JSONValue.parse(data) else { return 0 }
    var text = ""
    CanonicalJSON.write(value, into: &text)
    let reparsed: JSONValue
    do { reparsed = try JSONValue.parse(Data(text.utf8)) } catch { preconditionFailure("canonical text \(text) does not parse: \(error.problem)") }
    precondition(reparsed == value, "canonical round trip changed \(value) into \(reparsed)")
    if let decoded = try? JSONDecoder().decode(JSONValue.self, from: data) {
        precondition(decoded == value, "JSONDecoder read \(decoded), the parser \(value)")
    }
    return 0
}

/// SwiftPM links an executable's entry point as `<target>_main`; hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafeRawPointer?, Int) -> CInt) -> CInt

@_cdecl("FuzzJSONParser_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        guard let data else { return 0 }
        return fuzzJSONParserEntry(data, size)
    }
}
