import Foundation

/// What a frame says about itself before anything is stored: a camera's bytes are sniffed
/// (JPEG or PNG magic) and their header dimensions checked without decoding a pixel.
public enum FrameCheck {
    public struct Info: Sendable, Equatable {
        public var format: ImageFormat
        public var width: Int
        public var height: Int
    }

    /// Longest side a frame may declare, in pixels.
    public static let maxSide = 50_000

    public static func inspect(_ data: Data, maxPixels: Int = ImageLimits.defaultMaxPixels) throws(EvidenceError) -> Info {
        guard !data.isEmpty else { throw .empty }
        let format: ImageFormat, w: Int, h: Int
        switch ImageFormat.sniff(data) {
        case .jpeg:
            do { (w, h) = try JPEG.dimensions(of: data) } catch let e as EvidenceError { throw e } catch {
                throw .corrupt(format: "JPEG", detail: "\(error)")
            }
            format = .jpeg
        case .png:
            guard let size = PNG.ihdrSize(data) else { throw .corrupt(format: "PNG", detail: "no IHDR header") }
            (w, h) = size
            format = .png
        case nil:
            throw .unsupportedFormat
        }
        guard w > 0, h > 0 else { throw .invalidDimensions(width: w, height: h) }
        guard w <= maxSide, h <= maxSide, w * h <= maxPixels else { throw .tooManyPixels(width: w, height: h, limit: maxPixels) }
        return Info(format: format, width: w, height: h)
    }
}
