/// An 8-bit RGB pixel.
public struct RGB: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let black = RGB(0, 0, 0)
    public static let white = RGB(255, 255, 255)

    /// Relative luminance approximation (0…255), used to choose text colour on a fill.
    public var luma: Int { (Int(r) * 299 + Int(g) * 587 + Int(b) * 114) / 1000 }

    /// Black or white, whichever reads better on top of this colour.
    public var contrastingText: RGB { luma > 140 ? .black : .white }

    /// Linear mix: `t` = 0 gives self, 1 gives `other`.
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        let u = max(0, min(1, t))
        func m(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8((Double(a) * (1 - u) + Double(b) * u).rounded()) }
        return RGB(m(r, other.r), m(g, other.g), m(b, other.b))
    }

    public var description: String { "rgb(\(r),\(g),\(b))" }
}

/// An integer pixel rectangle (top-left origin, half-open: covers x..<x+width).
public struct PixelRect: Sendable, Equatable, Hashable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var area: Int { isEmpty ? 0 : width * height }
    public var centerX: Double { Double(x) + Double(width) / 2 }
    public var centerY: Double { Double(y) + Double(height) / 2 }

    public func intersection(_ o: PixelRect) -> PixelRect {
        let x0 = max(x, o.x), y0 = max(y, o.y), x1 = min(maxX, o.maxX), y1 = min(maxY, o.maxY)
        return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
    public func intersects(_ o: PixelRect) -> Bool { !intersection(o).isEmpty }
    public func insetBy(_ d: Int) -> PixelRect { PixelRect(x: x + d, y: y + d, width: width - 2 * d, height: height - 2 * d) }
    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
}

/// A simple packed RGB8 image: `width * height * 3` bytes, rows top to bottom, no padding.
///
/// Every decoder in this module produces a `Raster` and every encoder consumes one; all
/// drawing happens on it. Value semantics (copy-on-write through the pixel array).
public struct Raster: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Packed RGB bytes, `(y * width + x) * 3`.
    public var pixels: [UInt8]

    /// A raster filled with `color`. Width and height must be positive.
    public init(width: Int, height: Int, fill color: RGB = .black) {
        precondition(width > 0 && height > 0, "Raster dimensions must be positive")
        self.width = width
        self.height = height
        let n = width * height
        var p = [UInt8](repeating: 0, count: n * 3)
        if color != .black {
            p.withUnsafeMutableBufferPointer { buf in
                var i = 0
                while i < n * 3 { buf[i] = color.r; buf[i + 1] = color.g; buf[i + 2] = color.b; i += 3 }
            }
        }
        self.pixels = p
    }

    /// Wraps existing packed RGB bytes. Returns nil when the count doesn't match.
    public init?(width: Int, height: Int, pixels: [UInt8]) {
        guard width > 0, height > 0, pixels.count == width * height * 3 else { return nil }
        self.width = width; self.height = height; self.pixels = pixels
    }

    public var pixelCount: Int { width * height }
    public var bounds: PixelRect { PixelRect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> RGB {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height)
            let i = (y * width + x) * 3
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height)
            let i = (y * width + x) * 3
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }

    /// Sets a pixel if it is inside the raster; silently ignores it otherwise.
    @inlinable
    public mutating func plot(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, x < width, y >= 0, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    /// Fills a rectangle (clipped to the raster).
    public mutating func fill(_ rect: PixelRect, _ c: RGB) {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return }
        let w = width
        pixels.withUnsafeMutableBufferPointer { buf in
            // One row pixel by pixel, the others copied from it.
            let first = (r.y * w + r.x) * 3, rowBytes = r.width * 3
            var i = first
            while i < first + rowBytes { buf[i] = c.r; buf[i + 1] = c.g; buf[i + 2] = c.b; i += 3 }
            let base = buf.baseAddress!
            for y in r.y + 1..<r.maxY {
                (base + (y * w + r.x) * 3).update(from: base + first, count: rowBytes)
            }
        }
    }

    /// Fills whole rows `start..<end` (byte offsets) of a packed RGB buffer, initialised or
    /// not, with `c`: the first row pixel by pixel, the rest copied from it.
    static func fillRows(_ buf: UnsafeMutableBufferPointer<UInt8>, from start: Int, to end: Int, rowBytes: Int, _ c: RGB) {
        guard rowBytes > 0, rowBytes % 3 == 0, start >= 0, start < end, end <= buf.count, (end - start) % rowBytes == 0,
              let base = buf.baseAddress else { return }
        var i = start
        while i < start + rowBytes { buf[i] = c.r; buf[i + 1] = c.g; buf[i + 2] = c.b; i += 3 }
        var row = start + rowBytes
        while row < end {
            (base + row).initialize(from: base + start, count: rowBytes)
            row += rowBytes
        }
    }

    /// Blends `c` over a rectangle with the given opacity (0…1).
    public mutating func blend(_ rect: PixelRect, _ c: RGB, alpha: Double) {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return }
        let a = Int(max(0, min(1, alpha)) * 256), ia = 256 - a
        let cr = Int(c.r) * a, cg = Int(c.g) * a, cb = Int(c.b) * a
        let w = width
        pixels.withUnsafeMutableBufferPointer { buf in
            for y in r.y..<r.maxY {
                var i = (y * w + r.x) * 3
                for _ in 0..<r.width {
                    buf[i] = UInt8((Int(buf[i]) * ia + cr) >> 8)
                    buf[i + 1] = UInt8((Int(buf[i + 1]) * ia + cg) >> 8)
                    buf[i + 2] = UInt8((Int(buf[i + 2]) * ia + cb) >> 8)
                    i += 3
                }
            }
        }
    }

    /// Draws a rectangle outline whose stroke lies *outside-in* from `rect`'s edge:
    /// the stroke covers `thickness` pixels inward from the rect's border.
    public mutating func strokeRect(_ rect: PixelRect, thickness: Int, _ c: RGB) {
        let t = max(1, min(thickness, max(1, min(rect.width, rect.height) / 2)))
        fill(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: t), c)
        fill(PixelRect(x: rect.x, y: rect.maxY - t, width: rect.width, height: t), c)
        fill(PixelRect(x: rect.x, y: rect.y, width: t, height: rect.height), c)
        fill(PixelRect(x: rect.maxX - t, y: rect.y, width: t, height: rect.height), c)
    }

    /// A thick line (square brush) from (x0,y0) to (x1,y1).
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, thickness: Int, _ c: RGB) {
        let dx = x1 - x0, dy = y1 - y0
        let steps = max(abs(dx), abs(dy))
        let t = max(1, thickness), h = t / 2
        if steps == 0 { fill(PixelRect(x: x0 - h, y: y0 - h, width: t, height: t), c); return }
        for s in 0...steps {
            let x = x0 + (dx * s + (dx >= 0 ? steps / 2 : -steps / 2)) / steps
            let y = y0 + (dy * s + (dy >= 0 ? steps / 2 : -steps / 2)) / steps
            fill(PixelRect(x: x - h, y: y - h, width: t, height: t), c)
        }
    }

    /// This raster with `rows` extra rows of `color` added at the bottom (one copy).
    public func extended(bottom rows: Int, fill color: RGB) -> Raster {
        guard rows > 0 else { return self }
        var p = [UInt8]()
        p.reserveCapacity((height + rows) * width * 3)
        p.append(contentsOf: pixels)
        let rowBytes = width * 3
        var row = [UInt8](repeating: 0, count: rowBytes)
        for i in stride(from: 0, to: rowBytes, by: 3) { row[i] = color.r; row[i + 1] = color.g; row[i + 2] = color.b }
        for _ in 0..<rows { p.append(contentsOf: row) }
        return Raster(width: width, height: height + rows, pixels: p)!
    }

    /// Copies a region out (clipped; returns nil if the clipped region is empty).
    public func cropped(_ rect: PixelRect) -> Raster? {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return nil }
        var out = [UInt8](repeating: 0, count: r.width * r.height * 3)
        let rowBytes = r.width * 3
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<r.height {
                    let s = ((r.y + y) * width + r.x) * 3
                    let d = y * rowBytes
                    dst.baseAddress!.advanced(by: d).update(from: src.baseAddress!.advanced(by: s), count: rowBytes)
                }
            }
        }
        return Raster(width: r.width, height: r.height, pixels: out)
    }

    /// Pastes `other` with its top-left at (x, y), clipped.
    public mutating func paste(_ other: Raster, x: Int, y: Int) {
        let dstRect = PixelRect(x: x, y: y, width: other.width, height: other.height).intersection(bounds)
        guard !dstRect.isEmpty else { return }
        let w = width
        other.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for row in dstRect.y..<dstRect.maxY {
                    let sy = row - y, sx = dstRect.x - x
                    let s = (sy * other.width + sx) * 3
                    let d = (row * w + dstRect.x) * 3
                    dst.baseAddress!.advanced(by: d).update(from: src.baseAddress!.advanced(by: s), count: dstRect.width * 3)
                }
            }
        }
    }

    /// Nearest-neighbour magnification by an integer factor (crisp pixels: an inset shows
    /// what the camera captured, not invented detail).
    public func magnified(by factor: Int) -> Raster {
        let f = max(1, factor)
        if f == 1 { return self }
        let nw = width * f, nh = height * f
        var out = [UInt8](repeating: 0, count: nw * nh * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<height {
                    let rowStart = y * f * nw * 3
                    var d = rowStart
                    var s = y * width * 3
                    for _ in 0..<width {
                        let r = src[s], g = src[s + 1], b = src[s + 2]
                        for _ in 0..<f { dst[d] = r; dst[d + 1] = g; dst[d + 2] = b; d += 3 }
                        s += 3
                    }
                    for k in 1..<f {
                        dst.baseAddress!.advanced(by: rowStart + k * nw * 3)
                            .update(from: dst.baseAddress!.advanced(by: rowStart), count: nw * 3)
                    }
                }
            }
        }
        return Raster(width: nw, height: nh, pixels: out)!
    }

    /// Area-averaging (box filter) resize to the given size. Each destination pixel is the
    /// exact area-weighted mean of the source pixels it covers, so downscaling is alias-free
    /// and thin lines fade rather than vanish. Upscaling falls back to the same weights
    /// (which reduce to nearest/linear-ish sampling).
    public func resized(width nw: Int, height nh: Int) -> Raster {
        precondition(nw > 0 && nh > 0)
        if nw == width && nh == height { return self }
        // Separable: horizontal pass into a float buffer, then vertical.
        let hw = Raster.boxWeights(src: width, dst: nw)
        let vw = Raster.boxWeights(src: height, dst: nh)
        var tmp = [Float](repeating: 0, count: nw * height * 3)
        pixels.withUnsafeBufferPointer { src in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<height {
                    let srow = y * width * 3, trow = y * nw * 3
                    for x in 0..<nw {
                        let (start, ws) = hw[x]
                        var r: Float = 0, g: Float = 0, b: Float = 0
                        var s = srow + start * 3
                        for w in ws {
                            r += Float(src[s]) * w; g += Float(src[s + 1]) * w; b += Float(src[s + 2]) * w
                            s += 3
                        }
                        let o = trow + x * 3
                        t[o] = r; t[o + 1] = g; t[o + 2] = b
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: nw * nh * 3)
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { dst in
                var acc = [Float](repeating: 0, count: nw * 3)
                for y in 0..<nh {
                    let (start, ws) = vw[y]
                    for i in 0..<acc.count { acc[i] = 0 }
                    var sy = start
                    for w in ws {
                        let row = sy * nw * 3
                        for i in 0..<(nw * 3) { acc[i] += t[row + i] * w }
                        sy += 1
                    }
                    let o = y * nw * 3
                    for i in 0..<(nw * 3) {
                        let v = acc[i] + 0.5
                        dst[o + i] = v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v))
                    }
                }
            }
        }
        return Raster(width: nw, height: nh, pixels: out)!
    }

    /// For each destination index: first source index and normalised weights.
    static func boxWeights(src: Int, dst: Int) -> [(Int, [Float])] {
        let scale = Double(src) / Double(dst)
        var result: [(Int, [Float])] = []
        result.reserveCapacity(dst)
        for i in 0..<dst {
            var a = Double(i) * scale, b = Double(i + 1) * scale
            if scale < 1 { // upscaling: sample a one-pixel window centred on the position
                let c = (Double(i) + 0.5) * scale
                a = max(0, c - 0.5); b = min(Double(src), c + 0.5)
            }
            let first = max(0, min(src - 1, Int(a.rounded(.down))))
            let last = max(first, min(src - 1, Int((b - 1e-9).rounded(.down))))
            var ws: [Float] = []
            var total = 0.0
            for s in first...last {
                let lo = max(a, Double(s)), hi = min(b, Double(s + 1))
                let w = max(0, hi - lo)
                ws.append(Float(w)); total += w
            }
            if total <= 0 { ws = [1] + Array(repeating: 0, count: ws.count - 1); total = 1 }
            result.append((first, ws.map { $0 / Float(total) }))
        }
        return result
    }

    /// Scales so that the longer side is at most `maxDimension` (never upscales).
    public func fitted(maxDimension: Int) -> Raster {
        let size = Raster.fittedSize(width: width, height: height, maxDimension: maxDimension)
        return resized(width: size.width, height: size.height)
    }

    /// The size `fitted(maxDimension:)` gives; nil keeps the size.
    static func fittedSize(width: Int, height: Int, maxDimension: Int?) -> (width: Int, height: Int) {
        let longest = max(width, height)
        guard let maxDimension, maxDimension > 0, longest > maxDimension else { return (width, height) }
        let s = Double(maxDimension) / Double(longest)
        return (max(1, Int((Double(width) * s).rounded())), max(1, Int((Double(height) * s).rounded())))
    }
}
