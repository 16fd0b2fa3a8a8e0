import Foundation

/// The reference detector workers shipped with `millwright`: the Python files in this folder,
/// which `swift build` copies into the resource folder `Millwright_Workers.resources` next to
/// the executable. An installed `millwright` needs that folder copied next to it, like the OPC UA
/// NodeSet files (docs/capture.md).
public enum ReferenceWorkers {
    public static let bundleName = "Millwright_Workers.resources"
    /// A YOLO-style ONNX model with ONNX Runtime (`detector: { kind: onnx }`).
    public static let onnxDetect = "onnx_detect.py"

    /// Where a worker is to be looked for: next to the running executable (symlinks resolved)
    /// and, for test runners, next to their bundle.
    public static var candidates: [URL] {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        return [executable.deletingLastPathComponent().appendingPathComponent(bundleName),
                Bundle.main.bundleURL.appendingPathComponent(bundleName),
                Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(bundleName)]
    }

    /// The worker's file, or why it cannot be found.
    public static func locate(_ file: String) -> Result<URL, NotFound> {
        for c in candidates where FileManager.default.isReadableFile(atPath: c.appendingPathComponent(file).path) {
            return .success(c.appendingPathComponent(file))
        }
        return .failure(NotFound(description: "the reference worker \(file) is not in \(candidates.map(\.path).joined(separator: ", ")); copy \(bundleName) next to the millwright binary"))
    }

    public struct NotFound: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }
}
