import Foundation

/// An 8-bit grey picture, rows top to bottom, no padding.
public struct GreyImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    /// nil when the pixel count does not match the size.
    public init?(width: Int, height: Int, pixels: [UInt8]) {
        guard width > 0, height > 0, pixels.count == width * height else { return nil }
        self.width = width; self.height = height; self.pixels = pixels
    }

    public init(width: Int, height: Int, fill: UInt8) {
        precondition(width > 0 && height > 0)
        self.width = width; self.height = height
        pixels = [UInt8](repeating: fill, count: width * height)
    }

    public subscript(x: Int, y: Int) -> UInt8 {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }
}

/// The built-in detector for a fixed view (#16), as a value: no I/O, no clock.
///
/// It learns what the view looks like from `learnFrames` good frames — per pixel, the running
/// mean and variance (Welford) of the brightness after illumination normalisation — and from
/// then on flags the pixels that differ from that mean by more than `sigma` standard
/// deviations. The flags are cleaned with morphology, grouped into connected components, and
/// each component whose area is at least `minAreaPx` frame pixels becomes a finding.
///
/// It works on a downscaled grey picture (the shell decodes the JPEG at a reduced DCT scale);
/// boxes, areas and masks are in the original frame's pixels. Illumination is normalised by
/// scaling each frame so that its mean brightness outside the masks is `normalMean`: a light
/// that dims or brightens the whole view changes no pixel's standing, a change confined to a
/// small region does. Each pixel is given the largest variance in its 3×3 neighbourhood: an
/// edge that shifts by a fraction of a pixel between frames (vibration, JPEG ringing) then
/// does not count as a change on the pixels beside it, which learning may never have seen move.
///
/// What it is not: a classifier. It says "this differs from the reference here", nothing about
/// what the difference is; the class it reports is the one configured.
public struct ReferenceDetector: Sendable {
    public struct Point: Sendable, Equatable {
        public var x: Double, y: Double
        public init(x: Double, y: Double) { self.x = x; self.y = y }
    }

    public struct Parameters: Sendable, Equatable {
        public var learnFrames: Int
        /// k: how many standard deviations from the reference make a pixel count.
        public var sigma: Double
        /// Smallest component reported, in frame pixels (a working pixel counts as the frame
        /// pixels it covers).
        public var minAreaPx: Int
        /// Polygons in frame pixels, ignored.
        public var masks: [[Point]]
        /// The least standard deviation a pixel is given, in normalised grey levels: a pixel
        /// that never changed while learning (a static stream, a saturated area) must not turn
        /// every JPEG rounding difference into a defect.
        public var sigmaFloor: Float

        public init(learnFrames: Int = 20, sigma: Double = 4, minAreaPx: Int = 80, masks: [[Point]] = [], sigmaFloor: Float = 2.5) {
            precondition(learnFrames >= 2 && sigma > 0 && minAreaPx >= 1 && sigmaFloor > 0)
            self.learnFrames = learnFrames; self.sigma = sigma; self.minAreaPx = minAreaPx; self.masks = masks; self.sigmaFloor = sigmaFloor
        }
    }

    public enum Phase: Sendable, Equatable {
        case learning(seen: Int, of: Int)
        case ready
    }

    /// A region that differs from the reference, in frame pixels.
    public struct Finding: Sendable, Equatable {
        public var x: Int, y: Int, width: Int, height: Int
        /// Flagged area in frame pixels.
        public var areaPx: Int
        /// 0…1, from the z-score mass above the threshold (see `confidence(mass:minArea:)`).
        public var confidence: Double
        /// The largest |z| in the region.
        public var peakZ: Double
    }

    /// The shell decodes frames at the smallest DCT scale at least this wide: 1080p at 1/4
    /// (480×270), where a crack a few frame pixels wide is still a working pixel or two; 640×360
    /// at 1/2. Downscaling averages away sensor grain and JPEG ringing, which a full-size
    /// comparison would have to learn pixel by pixel.
    public static let workingWidth = 320

    /// Mean brightness every frame is scaled to before it is compared.
    static let normalMean: Float = 128

    public let parameters: Parameters
    public private(set) var phase: Phase

    /// The working picture's size, and the frame size it stands for; a frame of another size
    /// starts the learning again (the camera's resolution was changed).
    private var size: (width: Int, height: Int, frameWidth: Int, frameHeight: Int)?
    private var learnt = 0
    private var mean: [Float] = []
    private var m2: [Float] = []
    /// 1/σ per pixel, once ready.
    private var inverseSigma: [Float] = []
    /// 1: the pixel is inside a mask.
    private var masked: [UInt8] = []
    private var unmaskedCount = 0

    public init(_ parameters: Parameters) {
        self.parameters = parameters
        phase = .learning(seen: 0, of: parameters.learnFrames)
    }

    /// Forgets the reference; the next `learnFrames` frames teach a new one.
    public mutating func relearn() {
        size = nil
        learnt = 0
        mean = []; m2 = []; inverseSigma = []; masked = []
        phase = .learning(seen: 0, of: parameters.learnFrames)
    }

    /// One frame, downscaled to `grey`, of a frame `frameWidth`×`frameHeight`: learnt while
    /// learning (no findings), compared once ready.
    public mutating func analyse(_ grey: GreyImage, frameWidth: Int, frameHeight: Int) -> [Finding] {
        guard frameWidth >= grey.width, frameHeight >= grey.height else { return [] }
        if let s = size, s != (grey.width, grey.height, frameWidth, frameHeight) { relearn() }
        if size == nil { start(grey, frameWidth: frameWidth, frameHeight: frameHeight) }
        guard unmaskedCount > 0 else { return [] }
        let gain = Self.normalMean / max(8, meanBrightness(grey))
        if case .learning = phase {
            learn(grey, gain: gain)
            return []
        }
        return compare(grey, gain: gain, frameWidth: frameWidth, frameHeight: frameHeight)
    }

    private mutating func start(_ grey: GreyImage, frameWidth: Int, frameHeight: Int) {
        let n = grey.width * grey.height
        size = (grey.width, grey.height, frameWidth, frameHeight)
        mean = [Float](repeating: 0, count: n)
        m2 = [Float](repeating: 0, count: n)
        masked = MaskRaster.rasterise(parameters.masks, width: grey.width, height: grey.height,
                                      scaleX: Double(frameWidth) / Double(grey.width), scaleY: Double(frameHeight) / Double(grey.height))
        unmaskedCount = n - masked.reduce(0) { $0 + Int($1) }
    }

    private func meanBrightness(_ grey: GreyImage) -> Float {
        var sum = 0
        grey.pixels.withUnsafeBufferPointer { p in
            masked.withUnsafeBufferPointer { m in
                for i in 0..<p.count where m[i] == 0 { sum += Int(p[i]) }
            }
        }
        return Float(sum) / Float(unmaskedCount)
    }

    /// Welford's update: numerically stable where the naive sum of squares is not.
    private mutating func learn(_ grey: GreyImage, gain: Float) {
        learnt += 1
        let n = Float(learnt)
        grey.pixels.withUnsafeBufferPointer { p in
            mean.withUnsafeMutableBufferPointer { mean in
                m2.withUnsafeMutableBufferPointer { m2 in
                    for i in 0..<p.count {
                        let v = Float(p[i]) * gain
                        let d = v - mean[i]
                        mean[i] += d / n
                        m2[i] += d * (v - mean[i])
                    }
                }
            }
        }
        guard learnt >= parameters.learnFrames else {
            phase = .learning(seen: learnt, of: parameters.learnFrames)
            return
        }
        let floor2 = parameters.sigmaFloor * parameters.sigmaFloor
        let variance = Morphology.max3x3(m2.map { max($0 / (n - 1), floor2) }, width: grey.width, height: grey.height)
        inverseSigma = variance.map { 1 / $0.squareRoot() }
        m2 = []
        phase = .ready
    }

    private func compare(_ grey: GreyImage, gain: Float, frameWidth: Int, frameHeight: Int) -> [Finding] {
        let w = grey.width, h = grey.height, n = w * h
        let k = Float(parameters.sigma)
        // |z| − k where positive, else 0: the flags and the mass the confidence comes from.
        var excess = [Float](repeating: 0, count: n)
        var flags = [UInt8](repeating: 0, count: n)
        grey.pixels.withUnsafeBufferPointer { p in
            mean.withUnsafeBufferPointer { mean in
                inverseSigma.withUnsafeBufferPointer { inv in
                    masked.withUnsafeBufferPointer { m in
                        excess.withUnsafeMutableBufferPointer { e in
                            flags.withUnsafeMutableBufferPointer { f in
                                for i in 0..<n where m[i] == 0 {
                                    let z = abs(Float(p[i]) * gain - mean[i]) * inv[i]
                                    if z > k { e[i] = z - k; f[i] = 1 }
                                }
                            }
                        }
                    }
                }
            }
        }
        Morphology.removeIsolated(&flags, width: w, height: h)
        // Most frames are like the reference: nothing left to clean or label.
        guard flags.contains(1) else { return [] }
        Morphology.close(&flags, width: w, height: h)
        for i in 0..<n where masked[i] != 0 { flags[i] = 0 }
        let sx = Double(frameWidth) / Double(w), sy = Double(frameHeight) / Double(h)
        let pixelArea = sx * sy
        let minWorking = max(1, Double(parameters.minAreaPx) / pixelArea)
        var findings: [Finding] = []
        for c in Components.label(flags, width: w, height: h) {
            let area = Double(c.count) * pixelArea
            guard area >= Double(parameters.minAreaPx) else { continue }
            var mass: Float = 0, peak: Float = 0
            for i in c.pixels { mass += excess[i]; peak = max(peak, excess[i]) }
            let x0 = Int((Double(c.minX) * sx).rounded(.down)), y0 = Int((Double(c.minY) * sy).rounded(.down))
            let x1 = min(frameWidth, Int((Double(c.maxX + 1) * sx).rounded(.up))), y1 = min(frameHeight, Int((Double(c.maxY + 1) * sy).rounded(.up)))
            findings.append(Finding(x: x0, y: y0, width: x1 - x0, height: y1 - y0, areaPx: Int(area.rounded()),
                                    confidence: Self.confidence(mass: Double(mass), k: Double(k), minArea: minWorking),
                                    peakZ: Double(peak + k)))
        }
        return findings.sorted { $0.confidence > $1.confidence }
    }

    /// 1 − e^(−mass / (k · minArea)), rounded to 3 places: a region just at the minimum area
    /// whose pixels are 2k from the reference scores 0.63; larger or stronger regions approach 1.
    static func confidence(mass: Double, k: Double, minArea: Double) -> Double {
        let c = 1 - Foundation.exp(-mass / (k * minArea))
        return (c * 1000).rounded() / 1000
    }
}
