/// Binary morphology on a flag grid (1 set, 0 clear), in place.
enum Morphology {
    /// The union of openings with every two-pixel line element (horizontal, vertical, both
    /// diagonals): a set pixel stays when at least one of its eight neighbours is set. Unlike
    /// an opening with a 3×3 square it keeps a crack one working pixel wide, in any direction,
    /// while lone noise pixels go.
    static func removeIsolated(_ flags: inout [UInt8], width w: Int, height h: Int) {
        let source = flags
        source.withUnsafeBufferPointer { s in
            flags.withUnsafeMutableBufferPointer { f in
                for y in 0..<h {
                    let y0 = max(0, y - 1), y1 = min(h - 1, y + 1)
                    for x in 0..<w where s[y * w + x] != 0 {
                        let x0 = max(0, x - 1), x1 = min(w - 1, x + 1)
                        var neighbours = 0
                        for yy in y0...y1 { for xx in x0...x1 { neighbours += Int(s[yy * w + xx]) } }
                        if neighbours == 1 { f[y * w + x] = 0 }
                    }
                }
            }
        }
    }

    /// Closing with a 3×3 square (dilate, then erode): joins the pieces of a broken crack and
    /// fills pinholes, without growing the region. Outside the grid counts as set for the
    /// erosion, so a region touching the border is not eaten from it.
    static func close(_ flags: inout [UInt8], width w: Int, height h: Int) {
        pass(&flags, width: w, height: h, dilate: true)
        pass(&flags, width: w, height: h, dilate: false)
    }

    /// A 3×3 dilation or erosion as two separable 3-pixel passes.
    private static func pass(_ flags: inout [UInt8], width w: Int, height h: Int, dilate: Bool) {
        var rows = flags
        flags.withUnsafeBufferPointer { s in
            rows.withUnsafeMutableBufferPointer { r in
                for y in 0..<h {
                    let base = y * w
                    for x in 0..<w {
                        let l = x > 0 ? s[base + x - 1] : (dilate ? 0 : 1)
                        let c = s[base + x]
                        let rt = x < w - 1 ? s[base + x + 1] : (dilate ? 0 : 1)
                        r[base + x] = dilate ? (l | c | rt) : (l & c & rt)
                    }
                }
            }
        }
        rows.withUnsafeBufferPointer { r in
            flags.withUnsafeMutableBufferPointer { f in
                for y in 0..<h {
                    for x in 0..<w {
                        let i = y * w + x
                        let u = y > 0 ? r[i - w] : (dilate ? 0 : 1)
                        let d = y < h - 1 ? r[i + w] : (dilate ? 0 : 1)
                        f[i] = dilate ? (u | r[i] | d) : (u & r[i] & d)
                    }
                }
            }
        }
    }
}

extension Morphology {
    /// Each value replaced by the largest in its 3×3 neighbourhood (clipped at the border).
    static func max3x3(_ values: [Float], width w: Int, height h: Int) -> [Float] {
        var rows = values, out = values
        values.withUnsafeBufferPointer { v in
            rows.withUnsafeMutableBufferPointer { r in
                for y in 0..<h {
                    for x in 0..<w {
                        let i = y * w + x
                        r[i] = max(v[i], x > 0 ? v[i - 1] : v[i], x < w - 1 ? v[i + 1] : v[i])
                    }
                }
            }
        }
        rows.withUnsafeBufferPointer { r in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    for x in 0..<w {
                        let i = y * w + x
                        o[i] = max(r[i], y > 0 ? r[i - w] : r[i], y < h - 1 ? r[i + w] : r[i])
                    }
                }
            }
        }
        return out
    }
}

/// 8-connected components of a flag grid.
enum Components {
    struct Component {
        var pixels: [Int] = []
        var minX = Int.max, minY = Int.max, maxX = -1, maxY = -1
        var count: Int { pixels.count }
    }

    /// Flood fill with an explicit stack: its size is bounded by the grid, never by recursion depth.
    static func label(_ flags: [UInt8], width w: Int, height h: Int) -> [Component] {
        var seen = [Bool](repeating: false, count: flags.count)
        var stack: [Int] = []
        var out: [Component] = []
        for start in 0..<flags.count where flags[start] != 0 && !seen[start] {
            var c = Component()
            seen[start] = true
            stack.append(start)
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                c.pixels.append(i)
                c.minX = min(c.minX, x); c.maxX = max(c.maxX, x); c.minY = min(c.minY, y); c.maxY = max(c.maxY, y)
                for yy in max(0, y - 1)...min(h - 1, y + 1) {
                    for xx in max(0, x - 1)...min(w - 1, x + 1) {
                        let j = yy * w + xx
                        if flags[j] != 0 && !seen[j] { seen[j] = true; stack.append(j) }
                    }
                }
            }
            out.append(c)
        }
        return out
    }
}

/// Mask polygons (frame pixels) as a grid at working scale.
enum MaskRaster {
    /// 1 for each working pixel whose centre, in frame pixels, is inside a polygon (even-odd
    /// rule), scanning each row's crossings.
    static func rasterise(_ polygons: [[ReferenceDetector.Point]], width w: Int, height h: Int, scaleX: Double, scaleY: Double) -> [UInt8] {
        var grid = [UInt8](repeating: 0, count: w * h)
        for poly in polygons where poly.count >= 3 {
            var crossings: [Double] = []
            for y in 0..<h {
                let fy = (Double(y) + 0.5) * scaleY
                crossings.removeAll(keepingCapacity: true)
                for i in poly.indices {
                    let a = poly[i], b = poly[(i + 1) % poly.count]
                    // Half-open in y, so a vertex shared by two edges is counted once.
                    if (a.y <= fy) != (b.y <= fy) {
                        crossings.append(a.x + (fy - a.y) / (b.y - a.y) * (b.x - a.x))
                    }
                }
                crossings.sort()
                var k = 0
                while k + 1 < crossings.count {
                    // Working pixels whose centre (x + 0.5) · scaleX lies in [left, right).
                    let left = crossings[k] / scaleX - 0.5, right = crossings[k + 1] / scaleX - 0.5
                    let from = max(0, Int(max(-1, min(Double(w), left)).rounded(.up)))
                    let to = min(w - 1, Int(max(-1, min(Double(w), right)).rounded(.up)) - 1)
                    if from <= to { for x in from...to { grid[y * w + x] = 1 } }
                    k += 2
                }
            }
        }
        return grid
    }
}
