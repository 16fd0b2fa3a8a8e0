import CTurboJPEG
import Foundation

/// The brightness of a frame, decoded small, for the capture detector (#16).
public struct LumaPlane: Sendable {
    public var width: Int, height: Int
    /// `width × height` grey levels, rows top to bottom.
    public var pixels: [UInt8]
    /// The size the JPEG declares.
    public var frameWidth: Int, frameHeight: Int
}

extension JPEG {
    /// `data`'s luma at the smallest DCT scale whose width is still at least `width` (or full
    /// size when the frame is narrower): libjpeg-turbo skips most of the inverse DCT and the
    /// colour conversion, which makes this several times cheaper than a full decode. Throws
    /// `EvidenceError` for input that is not a decodable JPEG or has more than `maxPixels`.
    public static func decodeLuma(_ data: Data, coveringWidth width: Int, maxPixels: Int = ImageLimits.defaultMaxPixels) throws -> LumaPlane {
        let h = try header(of: data, maxPixels: maxPixels)
        let wanted = min(max(1, width), h.width)
        let s = scale(for: h, covering: wanted, (h.height * wanted + h.width - 1) / h.width)
        let w = s.apply(h.width), ht = s.apply(h.height)
        guard data.count <= Int(UInt32.max), let handle = tjInitDecompress() else { throw EvidenceError.corrupt(format: "JPEG", detail: "tjInitDecompress failed") }
        defer { tjDestroy(handle) }
        let pixels = try [UInt8](unsafeUninitializedCapacity: w * ht) { buf, initialized in
            let rc = data.withUnsafeBytes { src in
                tjDecompress2(handle, src.bindMemory(to: UInt8.self).baseAddress, UInt(src.count), buf.baseAddress,
                              Int32(w), Int32(w), Int32(ht), Int32(TJPF_GRAY.rawValue), Int32(TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS))
            }
            guard rc == 0 else { throw EvidenceError.corrupt(format: "JPEG", detail: String(cString: tjGetErrorStr2(handle))) }
            initialized = w * ht
        }
        return LumaPlane(width: w, height: ht, pixels: pixels, frameWidth: h.width, frameHeight: h.height)
    }
}
