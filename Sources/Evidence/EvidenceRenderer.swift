import Foundation
import MillwrightCore

/// Options for `EvidenceRenderer.render`.
public struct RenderOptions: Sendable, Equatable {
    /// Downscale the frame so its longer side is at most this *before* drawing, so boxes,
    /// text and insets are drawn crisply at the final size (insets still sample the
    /// full-resolution frame). nil keeps the frame size.
    public var maxDimension: Int?
    /// Draw magnified insets for small defects.
    public var insets: Bool
    /// A box narrower than this fraction of the frame width gets an inset.
    public var insetWidthThreshold: Double
    /// At most this many insets (most severe / first boxes first).
    public var maxInsets: Int
    /// Pixel limit for decoding frame bytes.
    public var maxPixels: Int

    public init(maxDimension: Int? = nil, insets: Bool = true, insetWidthThreshold: Double = 0.05,
                maxInsets: Int = 2, maxPixels: Int = ImageLimits.defaultMaxPixels) {
        self.maxDimension = maxDimension; self.insets = insets
        self.insetWidthThreshold = insetWidthThreshold; self.maxInsets = maxInsets; self.maxPixels = maxPixels
    }
}

/// Draws the evidence image that goes on every work order.
///
/// Output layout: the camera frame (optionally downscaled), with every detection box drawn
/// *around* the defect (a coloured stroke with a dark halo, thickness scaled with image
/// size so it survives downscaling), a label tag `class confidence% detection-id` kept
/// inside the frame, a magnified inset (4–6×, nearest-neighbour, bordered, with a
/// connector and a `5x ZOOM` tag) for defects narrower than 5 % of the frame, placed
/// where it covers no box; and under the frame a banner strip (it never covers the
/// image) with a severity chip, camera, asset id and name, UTC and plant-local time.
/// Colours follow `SeverityPalette`. All text uses the project's `BitmapFont`.
///
/// Typical gateway call:
/// ```swift
/// let raster = try EvidenceRenderer.render(frameData: jpegBytes, annotations: [ann],
///                                          banner: banner, severity: 78,
///                                          options: RenderOptions(maxDimension: 1920))
/// let jpeg = try JPEG.encode(raster, quality: 85)        // or raster.fit(maxBytes:maxDimension:)
/// let hash = try store.put(jpeg)
/// ```
/// With no frame at all, use `render(frame: nil, …, missingFrameReason:)` or `card(…)`.
public enum EvidenceRenderer {
    /// Renders onto an already decoded frame.
    public static func render(frame: Raster, annotations: [BoxAnnotation], banner: BannerInfo,
                              severity: Int, options: RenderOptions = RenderOptions()) -> Raster {
        let (W, H) = Raster.fittedSize(width: frame.width, height: frame.height, maxDimension: options.maxDimension)
        let st = Style(width: W, height: H)
        let layout = bannerLayout(banner, width: W, style: st)
        var canvas = frame.resized(width: W, height: H).extended(bottom: layout.height, fill: Style.bannerBackground)
        let insetPixels: InsetPixels = W == frame.width ? .canvas : .crop { frame.cropped($0) }
        draw(on: &canvas, frameWidth: frame.width, frameHeight: frame.height, annotations: annotations, layout: layout,
             severity: severity, style: st, options: options, insetPixels: insetPixels)
        return canvas
    }

    /// Decodes frame bytes (JPEG or PNG, sniffed; pixel-limited) and renders.
    ///
    /// A JPEG is decoded straight into the canvas, banner rows included, and when the output
    /// is smaller than the frame, at the smallest DCT scale that still covers it; insets then
    /// decode their few full-resolution pixels from a lossless crop of the JPEG.
    public static func render(frameData: Data, annotations: [BoxAnnotation], banner: BannerInfo,
                              severity: Int, options: RenderOptions = RenderOptions()) throws -> Raster {
        guard ImageFormat.sniff(frameData) == .jpeg else {
            let frame = try ImageDecoder.decode(frameData, maxPixels: options.maxPixels)
            return render(frame: frame, annotations: annotations, banner: banner, severity: severity, options: options)
        }
        let header = try JPEG.header(of: frameData, maxPixels: options.maxPixels)
        let (W, H) = Raster.fittedSize(width: header.width, height: header.height, maxDimension: options.maxDimension)
        let st = Style(width: W, height: H)
        let layout = bannerLayout(banner, width: W, style: st)
        let scale = JPEG.scale(for: header, covering: W, H)
        var canvas: Raster
        if scale.apply(header.width) == W && scale.apply(header.height) == H {
            canvas = try JPEG.decode(frameData, maxPixels: options.maxPixels, scale: scale, spareRows: layout.height, spareFill: Style.bannerBackground)
        } else {
            canvas = try JPEG.decode(frameData, maxPixels: options.maxPixels, scale: scale).resized(width: W, height: H)
                .extended(bottom: layout.height, fill: Style.bannerBackground)
        }
        let insetPixels: InsetPixels = W == header.width ? .canvas : .crop { JPEG.decodeRegion(frameData, $0, header: header) }
        draw(on: &canvas, frameWidth: header.width, frameHeight: header.height, annotations: annotations, layout: layout,
             severity: severity, style: st, options: options, insetPixels: insetPixels)
        return canvas
    }

    /// Where an inset's full-resolution pixels come from: the canvas itself (before anything
    /// is drawn on it) when it is the frame at full size, otherwise a crop of the source.
    enum InsetPixels {
        case canvas
        case crop((PixelRect) -> Raster?)
    }

    /// Draws boxes, tags, insets and the banner onto `canvas`: the frame scaled from
    /// `frameWidth`×`frameHeight` (the size the boxes are in) to its top rows, with the
    /// banner's rows below. Only the pixels under these drawings are touched.
    static func draw(on canvas: inout Raster, frameWidth srcW: Int, frameHeight srcH: Int, annotations: [BoxAnnotation],
                     layout bannerLines: BannerLayout, severity: Int, style st: Style, options: RenderOptions, insetPixels: InsetPixels) {
        // Boxes come from the camera, the frame from the decoder: they need not agree.
        let annotations = annotations.map { $0.clamped(toWidth: srcW, height: srcH) }
        let W = canvas.width, H = canvas.height - bannerLines.height
        let scale = Double(W) / Double(srcW)
        let frameRect = PixelRect(x: 0, y: 0, width: W, height: H)

        // 1. Boxes.
        struct Placed { var ann: BoxAnnotation; var inner: PixelRect; var outer: PixelRect; var color: RGB; var severity: Int }
        var placed: [Placed] = []
        for ann in annotations {
            let sev = ann.severity ?? severity
            let color = SeverityPalette.color(for: sev)
            let inner = clampRect(scaled(ann.box, scale), into: frameRect)
            let outer = outline(inner: inner, style: st, frame: frameRect)
            placed.append(Placed(ann: ann, inner: inner, outer: outer, color: color, severity: sev))
        }

        // 2. Label tags (positions first; drawn last so they sit on top).
        var tags: [(PixelRect, String, RGB)] = []
        for p in placed {
            let text = BitmapFont.truncated(p.ann.labelText, toWidth: W - 2 * st.pad, scale: st.textScale)
            let tw = BitmapFont.width(of: text, scale: st.textScale) + 2 * st.pad
            let th = st.tagHeight
            let x = max(0, min(W - tw, p.outer.x))
            let candidates = [
                PixelRect(x: x, y: p.outer.y - th, width: tw, height: th),          // above, touching
                PixelRect(x: x, y: p.outer.maxY, width: tw, height: th),            // below
                PixelRect(x: x, y: p.outer.y + st.thickness, width: tw, height: th), // inside top
            ].filter { $0.y >= 0 && $0.maxY <= H }
            let otherBoxes = placed.filter { $0.outer != p.outer }.map(\.outer)
            let chosen = candidates.first { c in !tags.contains { $0.0.intersects(c) } && !otherBoxes.contains { $0.intersects(c) } }
                ?? candidates.first { c in !tags.contains { $0.0.intersects(c) } }
                ?? candidates.first
                ?? PixelRect(x: 0, y: 0, width: tw, height: th)
            tags.append((chosen, text, p.color))
        }

        // 3. Insets for small defects, sampled from the full-resolution frame before anything is drawn.
        let small: [Placed] = !options.insets ? [] : Array(placed.filter { $0.ann.box.width < options.insetWidthThreshold * Double(srcW) }
            .sorted { $0.severity > $1.severity }
            .prefix(max(0, options.maxInsets)))
        var insets: [(Placed, Inset)] = []
        for p in small {
            let inset: Inset?
            switch insetPixels {
            case .canvas: inset = makeInset(frameWidth: srcW, frameHeight: srcH, crop: { canvas.cropped($0) }, box: p.ann.box, scale: scale, outW: W, outH: H)
            case let .crop(c): inset = makeInset(frameWidth: srcW, frameHeight: srcH, crop: c, box: p.ann.box, scale: scale, outW: W, outH: H)
            }
            if let inset { insets.append((p, inset)) }
        }

        for p in placed {
            canvas.strokeRect(PixelRect(x: p.outer.x - 1, y: p.outer.y - 1, width: p.outer.width + 2, height: p.outer.height + 2),
                              thickness: st.thickness + 2, .black)
            canvas.strokeRect(p.outer, thickness: st.thickness, p.color)
        }

        var occupied = placed.map { $0.outer } + tags.map { $0.0 }
        for (p, inset) in insets {
            let b = st.thickness + 1
            let size = (w: inset.raster.width + 2 * b, h: inset.raster.height + 2 * b)
            guard let spot = placeInset(size: size, near: p.outer, avoid: occupied, frame: frameRect, margin: st.margin) else { continue }
            occupied.append(spot)
            // Connector from the box's edge to the inset's edge.
            let a = closestPoint(in: p.outer, to: (spot.centerX, spot.centerY))
            let z = closestPoint(in: spot, to: (p.outer.centerX, p.outer.centerY))
            let c = max(2, st.thickness / 2)
            canvas.line(a.0, a.1, z.0, z.1, thickness: c + 2, .black)
            canvas.line(a.0, a.1, z.0, z.1, thickness: c, p.color)
            // Border (halo + colour), pixels, brackets, zoom tag. The pixels cover all
            // inside the border, so only the border's ring is painted black.
            canvas.strokeRect(spot, thickness: b, .black)
            canvas.strokeRect(spot.insetBy(1), thickness: st.thickness, p.color)
            let ix = spot.x + b, iy = spot.y + b
            canvas.paste(inset.raster, x: ix, y: iy)
            let d = PixelRect(x: ix + inset.defect.x, y: iy + inset.defect.y, width: inset.defect.width, height: inset.defect.height)
            drawBrackets(&canvas, around: d, gap: max(3, st.thickness), thickness: max(2, st.thickness / 2 + 1),
                         color: p.color, clip: PixelRect(x: ix, y: iy, width: inset.raster.width, height: inset.raster.height))
            let zt = "\(inset.factor)x ZOOM \(p.ann.defectClass)"
            let ztext = BitmapFont.truncated(zt, toWidth: inset.raster.width - 2 * st.pad, scale: st.textScale)
            let zw = BitmapFont.width(of: ztext, scale: st.textScale) + 2 * st.pad
            var zr = PixelRect(x: ix, y: iy, width: zw, height: st.tagHeight)
            if zr.intersects(d.insetBy(-max(3, st.thickness) - 4)) {
                zr.y = iy + inset.raster.height - st.tagHeight
            }
            tags.append((zr, ztext, p.color))
        }

        // 4. Tags on top.
        for (r, text, color) in tags {
            canvas.fill(r, color)
            BitmapFont.draw(text, on: &canvas, x: r.x + st.pad, y: r.y + st.pad, scale: st.textScale, color: color.contrastingText)
        }

        // 5. Banner under the frame.
        drawBanner(&canvas, top: H, layout: bannerLines, severity: severity, style: st)
    }

    /// Renders the frame if there is one, otherwise an evidence card stating why not.
    public static func render(frame: Raster?, annotations: [BoxAnnotation], banner: BannerInfo, severity: Int,
                              missingFrameReason: String, options: RenderOptions = RenderOptions()) -> Raster {
        if let frame { return render(frame: frame, annotations: annotations, banner: banner, severity: severity, options: options) }
        let a = annotations.first
        return card(reason: missingFrameReason, banner: banner, defectClass: a?.defectClass ?? "unknown",
                    confidence: a?.confidence, detectionId: a?.detectionId, severity: severity)
    }

    // MARK: - Evidence card

    /// The image attached when no frame is available: camera, asset, defect, confidence,
    /// time and the line `no frame available: <reason>`.
    public static func card(reason: String, banner: BannerInfo, defectClass: String, confidence: Double?,
                            detectionId: String?, severity: Int, width: Int = 1280, height: Int = 720) -> Raster {
        let W = max(320, width), H = max(180, height)
        let color = SeverityPalette.color(for: severity)
        var img = Raster(width: W, height: H, fill: RGB(34, 37, 43))
        let ts = max(1, min(W / 300, H / 170))
        let pad = 4 * ts
        // Header band.
        let title = "NO FRAME AVAILABLE"
        var big = ts * 2
        while big > 1 && BitmapFont.width(of: title, scale: big) > W - 2 * pad { big -= 1 }
        let headerH = BitmapFont.capHeight * big + 2 * pad + 2 * ts
        img.fill(PixelRect(x: 0, y: 0, width: W, height: headerH), color)
        BitmapFont.draw(title, on: &img, x: pad, y: (headerH - BitmapFont.capHeight * big) / 2, scale: big, color: color.contrastingText)
        // Hatched "missing image" motif on the right of the header.
        // Body.
        var y = headerH + pad
        let lineH = BitmapFont.lineHeight * ts
        let maxTextW = W - 2 * pad
        for line in wrap("no frame available: \(reason)", width: maxTextW, scale: ts).prefix(3) {
            BitmapFont.draw(line, on: &img, x: pad, y: y, scale: ts, color: SeverityPalette.medium)
            y += lineH
        }
        y += lineH / 2
        img.fill(PixelRect(x: pad, y: y - lineH / 4, width: W - 2 * pad, height: max(1, ts / 2)), RGB(80, 84, 92))
        var conf = ""
        if let c = confidence { conf = "  \(Checked.percent(c))%" }
        let rows: [(String, String)] = [
            ("Defect", "\(defectClass)\(conf)  severity \(severity) \(SeverityPalette.band(for: severity))"),
            ("Detection", detectionId ?? "-"),
            ("Camera", banner.cameraId),
            ("Asset", banner.assetText.hasPrefix("Asset ") ? String(banner.assetText.dropFirst(6)) : banner.assetText),
            ("Time", banner.utcText),
            ("Plant time", banner.localText),
        ] + (banner.note.map { [("Note", $0)] } ?? [])
        let labelW = BitmapFont.width(of: "Plant time  ", scale: ts)
        for (label, value) in rows {
            guard y + lineH <= H - pad else { break }
            BitmapFont.draw(label, on: &img, x: pad, y: y, scale: ts, color: RGB(150, 156, 168))
            let v = BitmapFont.truncated(value, toWidth: maxTextW - labelW, scale: ts)
            BitmapFont.draw(v, on: &img, x: pad + labelW, y: y, scale: ts, color: .white)
            y += lineH
        }
        // Severity edge on the left for at-a-glance colour.
        img.fill(PixelRect(x: 0, y: headerH, width: max(2, ts), height: H - headerH), color)
        return img
    }

    // MARK: - Layout helpers

    /// Where the coloured stroke of a box goes: `outer` is the stroke's outer edge and
    /// the stroke covers `thickness` pixels inward from it (a gap separates it from the
    /// defect). Coordinates are in the rendered frame of size `frameWidth`×`frameHeight`
    /// (i.e. after any `maxDimension` scaling; pass the scaled box).
    public static func boxOutline(for box: BoundingBox, frameWidth: Int, frameHeight: Int) -> (outer: PixelRect, thickness: Int) {
        let st = Style(width: frameWidth, height: frameHeight)
        let frameRect = PixelRect(x: 0, y: 0, width: frameWidth, height: frameHeight)
        return (outline(inner: clampRect(scaled(box, 1), into: frameRect), style: st, frame: frameRect), st.thickness)
    }

    static func outline(inner: PixelRect, style st: Style, frame frameRect: PixelRect) -> PixelRect {
        let grow = st.gap + st.thickness
        var outer = PixelRect(x: inner.x - grow, y: inner.y - grow, width: inner.width + 2 * grow, height: inner.height + 2 * grow)
        // Keep all four sides visible at the frame edge.
        outer = outer.intersection(frameRect)
        if outer.width < 3 * st.thickness || outer.height < 3 * st.thickness {
            outer = clampRect(PixelRect(x: Int(outer.centerX) - 2 * st.thickness, y: Int(outer.centerY) - 2 * st.thickness,
                                        width: 4 * st.thickness, height: 4 * st.thickness), into: frameRect)
        }
        return outer
    }

    /// Height of the banner strip added under a frame of this size (it grows by a line
    /// when the text would not fit on two).
    public static func bannerHeight(for banner: BannerInfo, frameWidth: Int, frameHeight: Int) -> Int {
        bannerLayout(banner, width: frameWidth, style: Style(width: frameWidth, height: frameHeight)).height
    }

    struct Style {
        static let bannerBackground = RGB(24, 26, 30)
        let thickness: Int, textScale: Int, pad: Int, gap: Int, margin: Int
        let tagHeight: Int, lineH: Int

        init(width: Int, height: Int) {
            let longSide = max(width, height), shortSide = min(width, height)
            thickness = max(2, Int((Double(longSide) / 400).rounded()))
            textScale = max(1, Int((Double(shortSide) / 300).rounded(.up)))
            pad = max(2, textScale + textScale / 2)
            gap = max(1, thickness / 2)
            margin = 2 * thickness
            // Glyph cell is 9 rows; the last 2 are descenders, so the bottom pad is smaller.
            tagHeight = pad + BitmapFont.glyphHeight * textScale + pad - textScale
            lineH = BitmapFont.glyphHeight * textScale
        }
    }

    static func scaled(_ b: BoundingBox, _ s: Double) -> PixelRect {
        let x0 = (b.x * s).rounded(.down), y0 = (b.y * s).rounded(.down)
        let x1 = ((b.x + max(0, b.width)) * s).rounded(.up), y1 = ((b.y + max(0, b.height)) * s).rounded(.up)
        func i(_ v: Double) -> Int { v.isFinite ? Checked.int(v, clampedTo: -10_000_000...10_000_000) : 0 }
        return PixelRect(x: i(x0), y: i(y0), width: max(1, i(x1) - i(x0)), height: max(1, i(y1) - i(y0)))
    }

    static func clampRect(_ r: PixelRect, into f: PixelRect) -> PixelRect {
        let w = min(max(1, r.width), f.width), h = min(max(1, r.height), f.height)
        let x = max(f.x, min(f.maxX - w, r.x)), y = max(f.y, min(f.maxY - h, r.y))
        return PixelRect(x: x, y: y, width: w, height: h)
    }

    static func closestPoint(in r: PixelRect, to p: (Double, Double)) -> (Int, Int) {
        (Int(max(Double(r.x), min(Double(r.maxX - 1), p.0))), Int(max(Double(r.y), min(Double(r.maxY - 1), p.1))))
    }

    struct Inset { var raster: Raster; var defect: PixelRect; var factor: Int }

    /// Crops context around `box` from the full-resolution frame (`crop` returns its pixels
    /// inside `frameWidth`×`frameHeight`) and magnifies it.
    static func makeInset(frameWidth: Int, frameHeight: Int, crop cropPixels: (PixelRect) -> Raster?,
                          box: BoundingBox, scale: Double, outW: Int, outH: Int) -> Inset? {
        guard box.width.isFinite, box.height.isFinite, box.x.isFinite, box.y.isFinite else { return nil }
        let bw = max(1, box.width), bh = max(1, box.height)
        var cw = max(bw * 1.6, bw + 24, 40)
        var ch = max(bh * 1.6, bh + 24, cw * 0.5625)
        cw = max(cw, ch * 0.75)
        cw = min(cw, Double(frameWidth)); ch = min(ch, Double(frameHeight))
        let cx = box.x + bw / 2, cy = box.y + bh / 2
        let limit = -10 * frameWidth - 10 * frameHeight...10 * frameWidth + 10 * frameHeight
        let crop = clampRect(PixelRect(x: Checked.int(cx - cw / 2, clampedTo: limit), y: Checked.int(cy - ch / 2, clampedTo: limit),
                                       width: Checked.int(cw, clampedTo: 1...frameWidth), height: Checked.int(ch, clampedTo: 1...frameHeight)),
                             into: PixelRect(x: 0, y: 0, width: frameWidth, height: frameHeight))
        let outCW = Double(crop.width) * scale, outCH = Double(crop.height) * scale
        var k = Int((0.28 * Double(outW) / outCW).rounded())
        k = max(4, min(6, k))
        let fitK = Int(min(0.45 * Double(outW) / outCW, 0.45 * Double(outH) / outCH))
        k = min(k, fitK)
        guard k >= 2, let pixels = cropPixels(crop) else { return nil }
        let iw = Int((outCW * Double(k)).rounded()), ih = Int((outCH * Double(k)).rounded())
        guard iw > 0, ih > 0 else { return nil }
        let magnified = scale == 1 ? pixels.magnified(by: k) : pixels.resized(width: iw, height: ih)
        let f = Double(magnified.width) / Double(crop.width)
        let defect = PixelRect(x: Int(((box.x - Double(crop.x)) * f).rounded(.down)),
                               y: Int(((box.y - Double(crop.y)) * f).rounded(.down)),
                               width: Int((bw * f).rounded(.up)), height: Int((bh * f).rounded(.up)))
        return Inset(raster: magnified, defect: defect, factor: Int((f / scale).rounded()))
    }

    /// Chooses a spot for an inset of `size`: corners and edge midpoints of the frame,
    /// preferring spots that cover no box or tag, then the one nearest the defect.
    static func placeInset(size: (w: Int, h: Int), near box: PixelRect, avoid: [PixelRect],
                           frame: PixelRect, margin: Int) -> PixelRect? {
        guard size.w + 2 * margin <= frame.width, size.h + 2 * margin <= frame.height else { return nil }
        let xs = [margin, (frame.width - size.w) / 2, frame.width - size.w - margin]
        let ys = [margin, (frame.height - size.h) / 2, frame.height - size.h - margin]
        var candidates: [PixelRect] = []
        for y in ys { for x in xs where !(x == xs[1] && y == ys[1]) { candidates.append(PixelRect(x: x, y: y, width: size.w, height: size.h)) } }
        // Also right next to the box, on each side.
        candidates += [
            PixelRect(x: box.maxX + 4 * margin, y: Int(box.centerY) - size.h / 2, width: size.w, height: size.h),
            PixelRect(x: box.x - 4 * margin - size.w, y: Int(box.centerY) - size.h / 2, width: size.w, height: size.h),
            PixelRect(x: Int(box.centerX) - size.w / 2, y: box.maxY + 4 * margin, width: size.w, height: size.h),
            PixelRect(x: Int(box.centerX) - size.w / 2, y: box.y - 4 * margin - size.h, width: size.w, height: size.h),
        ].filter { $0.x >= 0 && $0.y >= 0 && $0.maxX <= frame.width && $0.maxY <= frame.height }
        func dist(_ r: PixelRect) -> Double {
            let dx = r.centerX - box.centerX, dy = r.centerY - box.centerY
            return (dx * dx + dy * dy).squareRoot()
        }
        let guardBox = box.insetBy(-margin)
        let free = candidates.filter { c in !c.intersects(guardBox) && !avoid.contains { $0.intersects(c) } }
        if let best = free.min(by: { dist($0) < dist($1) }) { return best }
        // Never cover the defect itself; otherwise accept the least overlap with others.
        let safe = candidates.filter { !$0.intersects(guardBox) }
        return safe.min { a, b in
            avoid.reduce(0) { $0 + $1.intersection(a).area } < avoid.reduce(0) { $0 + $1.intersection(b).area }
        }
    }

    static func drawBrackets(_ img: inout Raster, around d: PixelRect, gap: Int, thickness t: Int, color: RGB, clip: PixelRect) {
        let r = PixelRect(x: d.x - gap - t, y: d.y - gap - t, width: d.width + 2 * (gap + t), height: d.height + 2 * (gap + t))
        let arm = max(3 * t, min(r.width, r.height) / 3)
        var segments: [PixelRect] = []
        for (cx, cy, sx, sy) in [(r.x, r.y, 1, 1), (r.maxX, r.y, -1, 1), (r.x, r.maxY, 1, -1), (r.maxX, r.maxY, -1, -1)] {
            let hx = sx > 0 ? cx : cx - arm, vy = sy > 0 ? cy : cy - arm
            segments.append(PixelRect(x: hx, y: sy > 0 ? cy : cy - t, width: arm, height: t))
            segments.append(PixelRect(x: sx > 0 ? cx : cx - t, y: vy, width: t, height: arm))
        }
        for s in segments { img.fill(s.insetBy(-1).intersection(clip), .black) }
        for s in segments { img.fill(s.intersection(clip), color) }
    }

    struct BannerLayout { var lines: [(String, RGB)]; var height: Int; var chipWidth: Int }

    /// Packs the banner's facts into lines: camera | asset | note, then UTC | plant time.
    /// Segments are joined with `|` while they fit; a segment that doesn't fit starts a new
    /// line, and an overlong one is word-wrapped, so nothing is cut off on narrow frames.
    static func bannerLayout(_ banner: BannerInfo, width W: Int, style st: Style) -> BannerLayout {
        let ts = st.textScale
        let chipW = max(BitmapFont.width(of: "SEV 100", scale: ts), BitmapFont.width(of: "CRITICAL", scale: ts)) + 2 * st.pad
        let avail = max(6 * ts, W - chipW - 4 * st.pad)
        func pack(_ segments: [String], _ color: RGB) -> [(String, RGB)] {
            var out: [String] = []
            var cur = ""
            for seg in segments.map(BitmapFont.fold) where !seg.isEmpty {
                let joined = cur.isEmpty ? seg : cur + "  |  " + seg
                if BitmapFont.width(of: joined, scale: ts) <= avail { cur = joined; continue }
                if !cur.isEmpty { out.append(cur) }
                if BitmapFont.width(of: seg, scale: ts) <= avail { cur = seg; continue }
                let wrapped = wrap(seg, width: avail, scale: ts)
                out.append(contentsOf: wrapped.dropLast())
                cur = wrapped.last ?? ""
            }
            if !cur.isEmpty { out.append(cur) }
            return out.map { ($0, color) }
        }
        var lines = pack([banner.cameraId, banner.note ?? "", banner.assetText], .white)
            + pack([banner.utcText, "plant time " + banner.localText], RGB(200, 204, 212))
        if lines.count > 6 { lines = Array(lines.prefix(6)) }
        let n = max(2, lines.count)
        return BannerLayout(lines: lines, height: st.pad + n * (st.lineH + st.pad), chipWidth: chipW)
    }

    static func drawBanner(_ img: inout Raster, top: Int, layout: BannerLayout, severity: Int, style st: Style) {
        let color = SeverityPalette.color(for: severity)
        let W = img.width
        let ts = st.textScale
        img.fill(PixelRect(x: 0, y: top, width: W, height: max(2, st.thickness / 2)), color)
        img.fill(PixelRect(x: 0, y: top, width: layout.chipWidth, height: layout.height), color)
        let y1 = top + st.pad, step = st.lineH + st.pad
        BitmapFont.draw("SEV \(severity)", on: &img, x: st.pad, y: y1, scale: ts, color: color.contrastingText)
        BitmapFont.draw(SeverityPalette.band(for: severity), on: &img, x: st.pad, y: y1 + step, scale: ts, color: color.contrastingText)
        let x0 = layout.chipWidth + 2 * st.pad
        for (i, (text, c)) in layout.lines.enumerated() {
            BitmapFont.draw(BitmapFont.truncated(text, toWidth: W - x0, scale: ts), on: &img, x: x0, y: y1 + i * step, scale: ts, color: c)
        }
    }

    /// Greedy word wrap to `width` pixels; overlong words are hard-truncated.
    static func wrap(_ text: String, width: Int, scale: Int) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in BitmapFont.fold(text).split(separator: " ", omittingEmptySubsequences: true) {
            let candidate = current.isEmpty ? String(word) : current + " " + word
            if BitmapFont.width(of: candidate, scale: scale) <= width { current = candidate; continue }
            if !current.isEmpty { lines.append(current) }
            current = BitmapFont.truncated(String(word), toWidth: width, scale: scale)
        }
        if !current.isEmpty { lines.append(current) }
        return lines.isEmpty ? [""] : lines
    }
}
