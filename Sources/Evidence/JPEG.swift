import CTurboJPEG
import Foundation

/// JPEG decode/encode through libjpeg-turbo's TurboJPEG API.
///
/// The installed libjpeg-turbo is 2.1 (no `tj3*` functions), so this uses
/// `tjDecompressHeader3` / `tjDecompress2` / `tjCompress2`. Decoding reads the header
/// first and refuses images above `maxPixels` before allocating; warnings (truncated or
/// damaged data) are treated as errors; progressive scans are limited (`TJFLAG_LIMITSCANS`)
/// against scan-count CPU bombs. Encoding writes fresh pixels only: no EXIF, no metadata.
public enum JPEG {
    /// Width and height from the JPEG header, without decoding pixels.
    public static func dimensions(of data: Data) throws -> (width: Int, height: Int) {
        guard !data.isEmpty else { throw EvidenceError.empty }
        guard data.count <= Int(UInt32.max) else { throw EvidenceError.corrupt(format: "JPEG", detail: "too large") }
        guard let handle = tjInitDecompress() else { throw EvidenceError.corrupt(format: "JPEG", detail: "tjInitDecompress failed") }
        defer { tjDestroy(handle) }
        return try header(handle, data)
    }

    private static func header(_ handle: tjhandle, _ data: Data) throws -> (width: Int, height: Int) {
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let rc = data.withUnsafeBytes { raw -> Int32 in
            let p = raw.bindMemory(to: UInt8.self).baseAddress!
            return tjDecompressHeader3(handle, p, UInt(raw.count), &w, &h, &subsamp, &colorspace)
        }
        guard rc == 0 else { throw EvidenceError.corrupt(format: "JPEG", detail: errorString(handle)) }
        guard w > 0, h > 0 else { throw EvidenceError.invalidDimensions(width: Int(w), height: Int(h)) }
        return (Int(w), Int(h))
    }

    /// Decodes a JPEG into an RGB raster. Throws `EvidenceError` for empty, corrupt,
    /// truncated or oversized input.
    public static func decode(_ data: Data, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> Raster {
        guard !data.isEmpty else { throw EvidenceError.empty }
        guard data.count <= Int(UInt32.max) else { throw EvidenceError.corrupt(format: "JPEG", detail: "too large") }
        guard let handle = tjInitDecompress() else { throw EvidenceError.corrupt(format: "JPEG", detail: "tjInitDecompress failed") }
        defer { tjDestroy(handle) }
        let (w, h) = try header(handle, data)
        guard w * h <= maxPixels else { throw EvidenceError.tooManyPixels(width: w, height: h, limit: maxPixels) }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        let flags = Int32(TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)
        let rc = data.withUnsafeBytes { raw -> Int32 in
            let src = raw.bindMemory(to: UInt8.self).baseAddress!
            return pixels.withUnsafeMutableBufferPointer { dst in
                tjDecompress2(handle, src, UInt(raw.count), dst.baseAddress, Int32(w), Int32(w * 3), Int32(h),
                              Int32(TJPF_RGB.rawValue), flags)
            }
        }
        guard rc == 0 else { throw EvidenceError.corrupt(format: "JPEG", detail: errorString(handle)) }
        return Raster(width: w, height: h, pixels: pixels)!
    }

    /// Encodes a raster as baseline JPEG (4:2:0 chroma subsampling, quality 1…100).
    /// The output contains only SOI/DQT/SOF/DHT/SOS/EOI — no APPn/EXIF metadata.
    public static func encode(_ raster: Raster, quality: Int = 85) throws -> Data {
        guard let handle = tjInitCompress() else { throw EvidenceError.encodeFailed(format: "JPEG", detail: "tjInitCompress failed") }
        defer { tjDestroy(handle) }
        let q = Int32(max(1, min(100, quality)))
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = raster.pixels.withUnsafeBufferPointer { src in
            tjCompress2(handle, src.baseAddress, Int32(raster.width), Int32(raster.width * 3), Int32(raster.height),
                        Int32(TJPF_RGB.rawValue), &out, &size, Int32(TJSAMP_420.rawValue), q, Int32(TJFLAG_ACCURATEDCT))
        }
        defer { if let out { tjFree(out) } }
        guard rc == 0, let out, size > 0 else {
            throw EvidenceError.encodeFailed(format: "JPEG", detail: errorString(handle))
        }
        return Data(bytes: out, count: Int(size))
    }

    private static func errorString(_ handle: tjhandle) -> String {
        guard let s = tjGetErrorStr2(handle) else { return "unknown error" }
        return String(cString: s)
    }

    /// True if the data starts with the JPEG SOI marker.
    public static func looksLikeJPEG(_ data: Data) -> Bool {
        data.count >= 3 && data[data.startIndex] == 0xFF && data[data.startIndex + 1] == 0xD8 && data[data.startIndex + 2] == 0xFF
    }
}
