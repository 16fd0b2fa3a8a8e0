/// Every failure of the Evidence module. Hostile, corrupt or oversized input always ends
/// here — never in a crash.
public enum EvidenceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Zero bytes of input.
    case empty
    /// The bytes are neither JPEG nor PNG (by magic number).
    case unsupportedFormat
    /// The header declares a zero or negative size.
    case invalidDimensions(width: Int, height: Int)
    /// The header declares more pixels than allowed (decompression-bomb guard).
    case tooManyPixels(width: Int, height: Int, limit: Int)
    /// The data is damaged or truncated; `detail` is the codec's message.
    case corrupt(format: String, detail: String)
    /// Encoding failed.
    case encodeFailed(format: String, detail: String)
    /// `fit` could not get under the byte limit even at the smallest size / lowest quality.
    case cannotFit(maxBytes: Int, smallestBytes: Int)
    /// Evidence store problems.
    case invalidHash(String)
    case notFound(hash: String)
    case io(String)

    public var description: String {
        switch self {
        case .empty: return "image data is empty"
        case .unsupportedFormat: return "image data is neither JPEG nor PNG"
        case let .invalidDimensions(w, h): return "image declares invalid dimensions \(w)x\(h)"
        case let .tooManyPixels(w, h, limit): return "image \(w)x\(h) exceeds the pixel limit of \(limit)"
        case let .corrupt(f, d): return "corrupt or truncated \(f): \(d)"
        case let .encodeFailed(f, d): return "\(f) encoding failed: \(d)"
        case let .cannotFit(m, s): return "cannot fit evidence under \(m) bytes (smallest attempt \(s) bytes)"
        case let .invalidHash(h): return "not a SHA-256 hex digest: \(h.prefix(80))"
        case let .notFound(h): return "no evidence with hash \(h)"
        case let .io(d): return "evidence storage I/O error: \(d)"
        }
    }
}

/// Limits applied while decoding untrusted images.
public enum ImageLimits {
    /// Default maximum pixel count (50 megapixels) — checked from the header, before any
    /// pixel buffer is allocated.
    public static let defaultMaxPixels = 50_000_000
}
