import Foundation

/// Image container formats the Evidence module reads.
public enum ImageFormat: String, Sendable {
    case jpeg, png

    /// Sniffs the format from magic bytes (never from a file name or content type).
    public static func sniff(_ data: Data) -> ImageFormat? {
        if JPEG.looksLikeJPEG(data) { return .jpeg }
        if PNG.looksLikePNG(data) { return .png }
        return nil
    }
}

/// Decodes untrusted frame bytes (JPEG or PNG, sniffed by magic number) into a `Raster`.
public enum ImageDecoder {
    /// - Throws: `EvidenceError.empty`, `.unsupportedFormat`, `.tooManyPixels`, `.corrupt`, …
    public static func decode(_ data: Data, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> Raster {
        guard !data.isEmpty else { throw EvidenceError.empty }
        switch ImageFormat.sniff(data) {
        case .jpeg: return try JPEG.decode(data, maxPixels: maxPixels)
        case .png: return try PNG.decode(data, maxPixels: maxPixels)
        case nil: throw EvidenceError.unsupportedFormat
        }
    }
}
