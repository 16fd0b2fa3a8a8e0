import CTurboJPEG
import Foundation

/// JPEG decode/encode through libjpeg-turbo's TurboJPEG API.
///
/// The installed libjpeg-turbo is 2.1 (no `tj3*` functions), so this uses
/// `tjDecompressHeader3` / `tjDecompress2` / `tjCompress2` / `tjTransform`. Decoding reads the
/// header first and refuses images above `maxPixels` before allocating; warnings (truncated or
/// damaged data) are treated as errors; progressive scans are limited (`TJFLAG_LIMITSCANS`)
/// against scan-count CPU bombs. Encoding writes fresh pixels only: no EXIF, no metadata.
public enum JPEG {
    /// What the header declares, read before any pixel is decoded.
    struct Header { var width: Int; var height: Int }

    /// A DCT scaling factor `num/denom` the decoder applies while decoding.
    struct Scale: Sendable, Equatable {
        var num: Int, denom: Int
        static let one = Scale(num: 1, denom: 1)
        /// libjpeg-turbo's `TJSCALED`: ceil(dimension × num / denom).
        func apply(_ dimension: Int) -> Int { (dimension * num + denom - 1) / denom }
    }

    /// The factors at most 1 that this libjpeg-turbo decodes at (7/8 … 1/8).
    static let downscales: [Scale] = {
        var n: Int32 = 0
        guard let p = tjGetScalingFactors(&n), n > 0 else { return [.one] }
        return UnsafeBufferPointer(start: p, count: Int(n)).map { Scale(num: Int($0.num), denom: Int($0.denom)) }
            .filter { $0.num > 0 && $0.num <= $0.denom }
    }()

    /// The smallest decoder scale whose output still covers `width`×`height`: the DCT does
    /// the bulk of a downscale almost for free, and whatever is left is a small resize.
    static func scale(for header: Header, covering width: Int, _ height: Int) -> Scale {
        var best = Scale.one
        for s in downscales where s.apply(header.width) >= width && s.apply(header.height) >= height
            && s.num * best.denom < best.num * s.denom { best = s }
        return best
    }

    private static let decodeFlags = Int32(TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)

    /// Width and height from the JPEG header, without decoding pixels.
    public static func dimensions(of data: Data) throws -> (width: Int, height: Int) {
        let h = try header(of: data, maxPixels: Int.max)
        return (h.width, h.height)
    }

    /// The header, refusing images above `maxPixels`.
    static func header(of data: Data, maxPixels: Int) throws -> Header {
        try withDecompressor(data) { handle, src in
            let h = try header(handle, src)
            guard h.width * h.height <= maxPixels else { throw EvidenceError.tooManyPixels(width: h.width, height: h.height, limit: maxPixels) }
            return h
        }
    }

    private static func withDecompressor<T>(_ data: Data, _ body: (tjhandle, UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard !data.isEmpty else { throw EvidenceError.empty }
        guard data.count <= Int(UInt32.max) else { throw EvidenceError.corrupt(format: "JPEG", detail: "too large") }
        guard let handle = tjInitDecompress() else { throw EvidenceError.corrupt(format: "JPEG", detail: "tjInitDecompress failed") }
        defer { tjDestroy(handle) }
        return try data.withUnsafeBytes { try body(handle, $0) }
    }

    private static func header(_ handle: tjhandle, _ src: UnsafeRawBufferPointer) throws -> Header {
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let rc = tjDecompressHeader3(handle, src.bindMemory(to: UInt8.self).baseAddress, UInt(src.count), &w, &h, &subsamp, &colorspace)
        guard rc == 0 else { throw EvidenceError.corrupt(format: "JPEG", detail: errorString(handle)) }
        guard w > 0, h > 0 else { throw EvidenceError.invalidDimensions(width: Int(w), height: Int(h)) }
        return Header(width: Int(w), height: Int(h))
    }

    /// Decodes a JPEG into an RGB raster. Throws `EvidenceError` for empty, corrupt,
    /// truncated or oversized input.
    public static func decode(_ data: Data, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> Raster {
        try decode(data, maxPixels: maxPixels, scale: .one)
    }

    /// Decodes at `scale` straight into a raster that has `spareRows` more rows of
    /// `spareFill` below the picture, so a caption strip under the frame costs no copy.
    static func decode(_ data: Data, maxPixels: Int, scale: Scale, spareRows: Int = 0, spareFill: RGB = .black) throws -> Raster {
        try withDecompressor(data) { handle, src in
            let h = try header(handle, src)
            guard h.width * h.height <= maxPixels else { throw EvidenceError.tooManyPixels(width: h.width, height: h.height, limit: maxPixels) }
            return try decode(handle, src, width: scale.apply(h.width), height: scale.apply(h.height), spareRows: max(0, spareRows), spareFill: spareFill)
        }
    }

    /// `width`×`height` must be the header's size under one of the decoder's scales: the
    /// decoder picks the largest scale that fits them, which then fills the buffer exactly.
    private static func decode(_ handle: tjhandle, _ src: UnsafeRawBufferPointer, width: Int, height: Int,
                               spareRows: Int, spareFill: RGB) throws -> Raster {
        let pictureBytes = width * height * 3, count = width * (height + spareRows) * 3
        // Uninitialised: the decoder writes every picture byte, the loop below every spare one,
        // and nothing is handed out unless both finished.
        let pixels = try [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            let rc = tjDecompress2(handle, src.bindMemory(to: UInt8.self).baseAddress, UInt(src.count), buf.baseAddress,
                                   Int32(width), Int32(width * 3), Int32(height), Int32(TJPF_RGB.rawValue), decodeFlags)
            guard rc == 0 else { throw EvidenceError.corrupt(format: "JPEG", detail: errorString(handle)) }
            Raster.fillRows(buf, from: pictureBytes, to: count, rowBytes: width * 3, spareFill)
            initialized = count
        }
        return Raster(width: width, height: height + spareRows, pixels: pixels)!
    }

    /// Full-resolution pixels of `rect` alone, for a magnified inset when the frame itself was
    /// decoded scaled: a lossless crop of the JPEG's DCT blocks (no inverse DCT for the rest of
    /// the frame), decoded and trimmed. nil when `rect` is not inside the image or the crop fails.
    static func decodeRegion(_ data: Data, _ rect: PixelRect, header: Header) -> Raster? {
        guard rect.x >= 0, rect.y >= 0, rect.width > 0, rect.height > 0, rect.maxX <= header.width, rect.maxY <= header.height,
              data.count <= Int(UInt32.max), let handle = tjInitTransform() else { return nil }
        defer { tjDestroy(handle) }
        // 32×16 is a multiple of every subsampling's MCU, as the crop's origin must be; the
        // extra MCU on each side keeps chroma upsampling at the crop's edge out of `rect`.
        let x0 = max(0, (rect.x / 32 - 1) * 32), y0 = max(0, (rect.y / 16 - 1) * 16)
        let x1 = min(header.width, rect.maxX + 32), y1 = min(header.height, rect.maxY + 16)
        var transform = tjtransform()
        transform.r = tjregion(x: Int32(x0), y: Int32(y0), w: Int32(x1 - x0), h: Int32(y1 - y0))
        transform.op = Int32(TJXOP_NONE.rawValue)
        transform.options = TJXOPT_CROP | TJXOPT_COPYNONE
        var out: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let rc = data.withUnsafeBytes { raw in
            tjTransform(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), 1, &out, &size, &transform, decodeFlags)
        }
        defer { if let out { tjFree(out) } }
        guard rc == 0, let out, size > 0, let decoder = tjInitDecompress() else { return nil }
        defer { tjDestroy(decoder) }
        let src = UnsafeRawBufferPointer(start: out, count: Int(size))
        guard let h = try? Self.header(decoder, src), h.width == x1 - x0, h.height == y1 - y0,
              let crop = try? decode(decoder, src, width: h.width, height: h.height, spareRows: 0, spareFill: .black) else { return nil }
        return crop.cropped(PixelRect(x: rect.x - x0, y: rect.y - y0, width: rect.width, height: rect.height))
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
