import Foundation
import MillwrightCore

/// A defect to paint into a synthetic frame, at a box in frame pixels.
public enum SyntheticDefect: Sendable, Equatable {
    /// A dark, jagged hairline crack along the box's longer axis.
    case crack(BoundingBox)
    /// A blotchy rust patch filling an ellipse in the box.
    case corrosion(BoundingBox)
    /// The belt edge running out of line (sheared), with a bright scuff mark.
    case misalignment(BoundingBox)

    public var box: BoundingBox {
        switch self { case let .crack(b), let .corrosion(b), let .misalignment(b): return b }
    }
}

/// Deterministic, fast generator of industrial-looking camera frames for the demo and
/// tests: a painted steel wall with brushed texture, a rubber conveyor belt running onto a
/// steel head pulley, a support beam with bolts, lighting falloff and sensor noise, with
/// defects painted at given boxes. Same seed → identical pixels.
public enum SyntheticFrame {
    /// What changes between two frames of the same view (same `seed`): the sensor grain and
    /// the strength of the light.
    public struct Variation: Sendable, Equatable {
        /// nil: the grain the scene seed gives.
        public var grainSeed: UInt64?
        /// Multiplies the light (1: as generated).
        public var light: Float
        public init(grainSeed: UInt64? = nil, light: Float = 1) { self.grainSeed = grainSeed; self.light = light }
        public static let none = Variation()
    }

    public static func generate(width: Int = 1920, height: Int = 1080, seed: UInt64, defects: [SyntheticDefect] = [],
                                variation: Variation = .none) -> Raster {
        let W = max(16, width), H = max(16, height)
        var rng = SplitMix64(seed: seed)
        var img = Raster(width: W, height: H)
        let fw = Double(W), fh = Double(H)

        // Scene geometry (varied slightly by the seed).
        let beltTop = Int(fh * (0.40 + rng.unit() * 0.04))
        let beltBottom = Int(fh * (0.70 + rng.unit() * 0.04))
        let pulleyR = Double(beltBottom - beltTop) * 0.5
        let pulleyCX = fw * (0.80 + rng.unit() * 0.05)
        let pulleyCY = Double(beltTop + beltBottom) / 2
        let beamTop = Int(fh * 0.80), beamBottom = Int(fh * 0.88)
        let wallTint = (Float(rng.next() % 20) * 0.3, Float(rng.next() % 14))
        let lightX = fw * (0.25 + rng.unit() * 0.5), lightY = fh * 0.2

        // Per-row brushed-metal streaks and a coarse value-noise lattice for stains.
        var streak = [Float](repeating: 0, count: H)
        for y in 0..<H { streak[y] = Float(Int(rng.next() % 9) - 4) }
        let lat = ValueNoise(cols: 48, rows: 28, rng: &rng)
        let grain = rng.next() | 1

        // Per-column precomputation: lighting term and noise-lattice interpolation positions.
        var lightCol = [Float](repeating: 0, count: W)
        var latX0 = [Int](repeating: 0, count: W)
        var latTX = [Float](repeating: 0, count: W)
        for x in 0..<W {
            let dx = (Double(x) - lightX) / fw
            lightCol[x] = Float(dx * dx)
            let f = min(0.9999, Double(x) / fw) * Double(lat.cols)
            latX0[x] = Int(f); latTX[x] = Float(f - Double(Int(f)))
        }
        let bandTop = pulleyCY - pulleyR * 1.1, bandBottom = pulleyCY + pulleyR * 1.1
        let boltR2 = Double(H) * Double(H) / 9000
        let boltPitch = max(8, W / 12)

        let latCols = lat.cols
        let latV = lat.v
        let grainSeed = variation.grainSeed.map { $0 | 1 } ?? grain
        let gain = variation.light
        img.pixels.withUnsafeMutableBufferPointer { px in
          lightCol.withUnsafeBufferPointer { lightCol in
          latX0.withUnsafeBufferPointer { latX0 in
          latTX.withUnsafeBufferPointer { latTX in
          latV.withUnsafeBufferPointer { latV in
            var grain = grainSeed
            let latRow = UnsafeMutableBufferPointer<Float>.allocate(capacity: latCols + 2)
            defer { latRow.deallocate() }
            for y in 0..<H {
                let fy = Double(y)
                let inBeam = y >= beamTop && y < beamBottom
                let inBand = fy >= bandTop && fy < bandBottom
                let dyL = (fy - lightY) / fh
                let rowLight = Float(dyL * dyL)
                let rowStreak = streak[y]
                // Interpolate the lattice vertically once per row.
                let fyl = min(0.9999, fy / fh) * Double(lat.rows)
                let y0 = Int(fyl), ty = Float(fyl - Double(y0))
                for c in 0...latCols {
                    let a = latV[y0 * (latCols + 1) + c], b = latV[(y0 + 1) * (latCols + 1) + c]
                    latRow[c] = a + (b - a) * ty
                }
                let pdy = fy - pulleyCY
                let beltV = Float((fy - bandTop) / (bandBottom - bandTop))
                let beamV = Float(y - beamTop) / Float(max(1, beamBottom - beamTop))
                let by = Double(y - (beamTop + beamBottom) / 2)
                for x in 0..<W {
                    let light = (1.15 - 0.9 * (lightCol[x] + rowLight)) * gain
                    let lx = latX0[x]
                    let stain = latRow[lx] + (latRow[lx + 1] - latRow[lx]) * latTX[x]
                    var r: Float, g: Float, b: Float
                    let pdx = Double(x) - pulleyCX
                    let pd2 = pdx * pdx + pdy * pdy
                    if pd2 < pulleyR * pulleyR {
                        // Pulley end face: brushed steel with radial shading, hub, bolt circle.
                        let d = pd2.squareRoot() / pulleyR
                        let shade = Float(150 - 60 * d + 25 * (pdx - pdy) / pulleyR)
                        r = shade; g = shade + 4; b = shade + 10
                        if d > 0.93 { r *= 0.55; g *= 0.55; b *= 0.55 }        // rim shadow
                        if d < 0.22 { r = 70; g = 72; b = 76 }                  // hub
                        if d < 0.08 { r = 35; g = 36; b = 38 }                  // shaft
                        if abs(d - 0.55) < 0.05 {
                            let k = (atan2(pdy, pdx) / (2 * Double.pi) * 8).truncatingRemainder(dividingBy: 1)
                            if abs(k) < 0.08 || abs(k) > 0.92 { r = 45; g = 45; b = 48 } // bolt heads
                        }
                    } else if pdx >= 0 && pd2 < (pulleyR * 1.1) * (pulleyR * 1.1) {
                        r = 34; g = 34; b = 36                                   // belt wrapping the drum
                    } else if inBand && pdx < 0 {
                        // Rubber belt: dark, longitudinal texture, worn lighter centre.
                        let wear = 10 * (1 - abs(beltV - 0.5) * 2)
                        let base = 44 + wear + rowStreak * 0.6 + stain * 10
                        r = base; g = base; b = base + 2
                        if beltV < 0.035 || beltV > 0.965 { r += 22; g += 22; b += 22 }   // belt edges
                    } else if inBeam {
                        // Painted support beam (safety yellow) with bolts.
                        let sh = 1 - 0.35 * abs(beamV - 0.4)
                        r = 205 * sh - stain * 20; g = 165 * sh - stain * 22; b = 40 * sh
                        let bx = x % boltPitch - boltPitch / 2
                        if Double(bx * bx) + by * by < boltR2 { r = 90; g = 86; b = 70 }
                    } else {
                        // Steel wall: blue-grey paint, brushed streaks, grime stains.
                        r = 96 + wallTint.0 + rowStreak - stain * 26
                        g = 106 + rowStreak - stain * 24
                        b = 118 + wallTint.1 + rowStreak - stain * 20
                        if fy < bandTop && fy >= bandTop - Double(max(2, H / 90)) { r *= 0.5; g *= 0.5; b *= 0.5 } // shadow under the belt
                    }
                    // Sensor grain (xorshift).
                    grain ^= grain << 13; grain ^= grain >> 7; grain ^= grain << 17
                    let n = Float(Int(grain & 15) - 8) * 0.9
                    let i = (y * W + x) * 3
                    px[i] = clamp8(r * light + n)
                    px[i + 1] = clamp8(g * light + n)
                    px[i + 2] = clamp8(b * light + n)
                }
            }
          }}}}
        }
        for d in defects { paint(d, on: &img, rng: &rng) }
        return img
    }

    @inline(__always) static func clamp8(_ v: Float) -> UInt8 {
        // Clamp in float first; the conversion then never traps.
        let c = Swift.min(Swift.max(v, 0), 255)
        return UInt8(truncatingIfNeeded: Int32(c))
    }

    static func paint(_ defect: SyntheticDefect, on img: inout Raster, rng: inout SplitMix64) {
        let b = defect.box
        guard b.width.isFinite, b.height.isFinite, b.width >= 1, b.height >= 1 else { return }
        switch defect {
        case .crack:
            // Random walk along the longer axis, 1–2 px dark core with a light lip.
            let horizontal = b.width >= b.height
            let length = Int(horizontal ? b.width : b.height)
            let across = horizontal ? b.height : b.width
            var offset = across / 2
            var pts: [(Int, Int)] = []
            for s in 0..<max(2, length) {
                offset += (rng.unit() - 0.5) * 2.2
                offset = max(1, min(across - 2, offset))
                let p = horizontal ? (Int(b.x) + s, Int(b.y + offset)) : (Int(b.x + offset), Int(b.y) + s)
                pts.append(p)
            }
            for (i, p) in pts.enumerated() {
                let core = (i % 7 < 4) ? 2 : 1
                let lip = horizontal ? (p.0, p.1 - 1) : (p.0 - 1, p.1)
                if lip.0 >= 0, lip.0 < img.width, lip.1 >= 0, lip.1 < img.height {
                    img[lip.0, lip.1] = img[lip.0, lip.1].mixed(with: .white, 0.35)
                }
                for k in 0..<core {
                    let q = horizontal ? (p.0, p.1 + k) : (p.0 + k, p.1)
                    img.plot(q.0, q.1, RGB(12, 11, 10))
                }
            }
            // A couple of short branches.
            for _ in 0..<2 where pts.count > 10 {
                var p = pts[Int(rng.next() % UInt64(pts.count))]
                let dir = rng.unit() < 0.5 ? -1 : 1
                for _ in 0..<Int(across * 0.4 + 3) {
                    if horizontal { p.0 += 1; p.1 += dir * (rng.unit() < 0.6 ? 1 : 0) } else { p.1 += 1; p.0 += dir * (rng.unit() < 0.6 ? 1 : 0) }
                    guard PixelRect(x: Int(b.x), y: Int(b.y), width: Int(b.width), height: Int(b.height)).contains(x: p.0, y: p.1) else { break }
                    img.plot(p.0, p.1, RGB(22, 20, 18))
                }
            }
        case .corrosion:
            let cx = b.x + b.width / 2, cy = b.y + b.height / 2
            let rx = b.width / 2, ry = b.height / 2
            let lat = ValueNoise(cols: 9, rows: 9, rng: &rng)
            for y in Int(b.y)..<Int(b.y + b.height) {
                for x in Int(b.x)..<Int(b.x + b.width) {
                    guard x >= 0, x < img.width, y >= 0, y < img.height else { continue }
                    let u = (Double(x) - cx) / rx, v = (Double(y) - cy) / ry
                    let n = Double(lat.sample((u + 1) / 2, (v + 1) / 2))
                    let d = u * u + v * v + (n - 0.5) * 0.9
                    guard d < 1 else { continue }
                    let t = min(1, (1 - d) * 2.5)
                    let pit = rng.next() % 23 == 0
                    let rust = pit ? RGB(60, 28, 12) : RGB(UInt8(150 + n * 60), UInt8(70 + n * 40), UInt8(25 + n * 15))
                    img[x, y] = img[x, y].mixed(with: rust, t * 0.92)
                }
            }
        case .misalignment:
            // The belt edge running out of line: a skewed rubber edge crossing the box, with a
            // bright worn lip and scuffing where it rubs the structure.
            let x0 = Int(b.x), y0 = Int(b.y), w = Int(b.width), h = Int(b.height)
            let lip = max(2, h / 14)
            for x in 0..<w {
                let t = Double(x) / Double(max(1, w - 1))
                let edgeY = y0 + Int((0.2 + 0.6 * t) * Double(h))
                for y in y0..<(y0 + h) {
                    let px = x0 + x
                    guard px >= 0, px < img.width, y >= 0, y < img.height else { continue }
                    if y < edgeY - lip {
                        img[px, y] = img[px, y].mixed(with: RGB(40, 40, 42), 0.9)
                    } else if y < edgeY {
                        img[px, y] = RGB(150, 148, 142).mixed(with: RGB(90, 88, 84), rng.unit())
                    } else if y < edgeY + lip * 2 {
                        img[px, y] = img[px, y].mixed(with: .black, 0.55)          // shadow of the lifted edge
                    } else if rng.next() % 9 == 0 && y < edgeY + lip * 5 {
                        img[px, y] = img[px, y].mixed(with: RGB(190, 185, 175), 0.6) // scuff marks
                    }
                }
            }
        }
    }
}

/// Bilinear value noise on a small random lattice, sampled in [0,1]².
struct ValueNoise {
    let cols: Int, rows: Int
    var v: [Float]
    init(cols: Int, rows: Int, rng: inout SplitMix64) {
        self.cols = cols; self.rows = rows
        v = (0..<((cols + 1) * (rows + 1))).map { _ in Float(rng.unit()) }
    }
    @inline(__always) func sample(_ u: Double, _ w: Double) -> Float {
        let fx = max(0, min(0.9999, u)) * Double(cols), fy = max(0, min(0.9999, w)) * Double(rows)
        let x0 = Int(fx), y0 = Int(fy)
        let tx = Float(fx - Double(x0)), ty = Float(fy - Double(y0))
        let i = y0 * (cols + 1) + x0
        let a = v[i] + (v[i + 1] - v[i]) * tx
        let b = v[i + cols + 1] + (v[i + cols + 2] - v[i + cols + 1]) * tx
        return a + (b - a) * ty
    }
}
