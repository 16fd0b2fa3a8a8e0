import Foundation

/// A smaller copy of a stored JPEG for pages that show many images at once (the board).
extension JPEG {
    /// The widths a thumbnail may be asked for: below 32 nothing is recognisable, above 1920
    /// the full image is the better answer.
    public static let thumbnailWidths = 32...1920

    /// `data` decoded at the smallest DCT scale that still covers `width` (libjpeg-turbo does
    /// most of the downscale while decoding), box-filtered to exactly `width` pixels wide,
    /// height in proportion, and encoded afresh. Never enlarges: an image narrower than
    /// `width` keeps its size. Throws `EvidenceError` for input that is not a decodable JPEG
    /// or has more than `maxPixels`.
    public static func thumbnail(_ data: Data, width: Int, maxPixels: Int = ImageLimits.defaultMaxPixels, quality: Int = 80) throws -> Data {
        precondition(thumbnailWidths.contains(width))
        let h = try header(of: data, maxPixels: maxPixels)
        let size = thumbnailSize(width: h.width, height: h.height, maxWidth: width)
        let decoded = try decode(data, maxPixels: maxPixels, scale: scale(for: h, covering: size.width, size.height))
        return try encode(decoded.resized(width: size.width, height: size.height), quality: quality)
    }

    /// The thumbnail's size for an image of `width`×`height`: `maxWidth` wide (or the image's
    /// own width when narrower), the height in proportion and at least one pixel.
    static func thumbnailSize(width: Int, height: Int, maxWidth: Int) -> (width: Int, height: Int) {
        guard width > maxWidth else { return (width, height) }
        // Integer arithmetic, rounded: the sizes are header values bounded by maxPixels.
        return (maxWidth, max(1, (height * maxWidth + width / 2) / width))
    }
}
