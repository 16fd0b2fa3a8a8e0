import CPNG
import Foundation

/// PNG decode/encode through libpng's simplified `png_image` API.
///
/// The header is read first (`png_image_begin_read_from_memory`) and the pixel limit is
/// enforced before any buffer is allocated. libpng reports errors through the image's
/// `message` (it longjmps internally inside its own safe wrapper), so corrupt data
/// becomes `EvidenceError.corrupt`.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    public static func looksLikePNG(_ data: Data) -> Bool {
        data.count >= 8 && data.prefix(8).elementsEqual(signature)
    }

    /// Decodes any PNG (grey, palette, alpha, 16-bit are converted) to RGB8; transparency
    /// is composited over white.
    public static func decode(_ data: Data, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> Raster {
        guard !data.isEmpty else { throw EvidenceError.empty }
        guard looksLikePNG(data) else { throw EvidenceError.corrupt(format: "PNG", detail: "bad signature") }
        // Check the IHDR size ourselves before libpng sees anything (IHDR must be first).
        if let (w, h) = ihdrSize(data) {
            guard w > 0, h > 0 else { throw EvidenceError.invalidDimensions(width: w, height: h) }
            guard w <= maxPixels, h <= maxPixels, w * h <= maxPixels else {
                throw EvidenceError.tooManyPixels(width: w, height: h, limit: maxPixels)
            }
        }
        // libpng reads from the memory given to begin_read until finish_read, so the whole
        // decode happens inside one pinned-bytes scope.
        return try data.withUnsafeBytes { raw -> Raster in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                throw EvidenceError.corrupt(format: "PNG", detail: message(&image))
            }
            let w = Int(image.width), h = Int(image.height)
            guard w > 0, h > 0 else { throw EvidenceError.invalidDimensions(width: w, height: h) }
            guard w <= maxPixels, h <= maxPixels, w * h <= maxPixels else {
                throw EvidenceError.tooManyPixels(width: w, height: h, limit: maxPixels)
            }
            image.format = UInt32(PNG_FORMAT_RGB)
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            var background = png_color(red: 255, green: 255, blue: 255)
            let ok = pixels.withUnsafeMutableBytes { dst in
                png_image_finish_read(&image, &background, dst.baseAddress, Int32(w * 3), nil)
            }
            // A warning (e.g. bad CRC in an ancillary chunk) still yields a full image.
            guard ok != 0 else { throw EvidenceError.corrupt(format: "PNG", detail: message(&image)) }
            return Raster(width: w, height: h, pixels: pixels)!
        }
    }

    /// Width and height from the IHDR chunk (bytes 16..<24), if present.
    static func ihdrSize(_ data: Data) -> (Int, Int)? {
        guard data.count >= 24 else { return nil }
        let b = [UInt8](data.prefix(24))
        guard b[12] == 0x49, b[13] == 0x48, b[14] == 0x44, b[15] == 0x52 else { return nil }
        func be(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        return (be(16), be(20))
    }

    /// Encodes a raster as an 8-bit RGB PNG (lossless; used for golden test images).
    public static func encode(_ raster: Raster) throws -> Data {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(raster.width)
        image.height = UInt32(raster.height)
        image.format = UInt32(PNG_FORMAT_RGB)
        var size: png_alloc_size_t = 0
        let sized = raster.pixels.withUnsafeBytes { src in
            png_image_write_to_memory(&image, nil, &size, 0, src.baseAddress, Int32(raster.width * 3), nil)
        }
        guard sized != 0, size > 0 else {
            let msg = message(&image); png_image_free(&image)
            throw EvidenceError.encodeFailed(format: "PNG", detail: msg)
        }
        var out = [UInt8](repeating: 0, count: Int(size))
        let ok = raster.pixels.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, src.baseAddress, Int32(raster.width * 3), nil)
            }
        }
        guard ok != 0 else {
            let msg = message(&image); png_image_free(&image)
            throw EvidenceError.encodeFailed(format: "PNG", detail: msg)
        }
        png_image_free(&image)
        return Data(out.prefix(Int(size)))
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            let s = String(decoding: bytes[..<end], as: UTF8.self)
            return s.isEmpty ? "libpng error" : s
        }
    }
}
