import Foundation

// # Evidence
//
// The annotated defect image attached to every work order.
//
// - Decode untrusted frames: `ImageDecoder.decode(_:maxPixels:)` (JPEG via libjpeg-turbo,
//   PNG via libpng, sniffed by magic bytes; pixel limit checked from the header first).
// - Draw: `EvidenceRenderer.render(frame:annotations:banner:severity:options:)` → `Raster`,
//   or `EvidenceRenderer.card(...)` when there is no frame.
// - Encode: `JPEG.encode(_:quality:)` (no metadata), `Raster.fit(maxBytes:maxDimension:)`.
// - One call for the gateway: `EvidenceRenderer.renderJPEG(...)` below.
// - Store: `EvidenceStore(directory:)` (content-addressed, atomic), `EvidenceLink.sign/verify`.
// - Demo frames: `SyntheticFrame.generate(...)`. Bench: `EvidenceBench.annotateAgainstFloor1080p(...)`.

extension EvidenceRenderer {
    /// The gateway's one-stop call: frame bytes (or nil) in, attachment-ready JPEG out.
    ///
    /// - With frame bytes: decodes them (JPEG/PNG, at most `maxPixels`; a JPEG at the DCT
    ///   scale the output size needs), draws the annotations at the final resolution and
    ///   fits the JPEG under `maxBytes` / `maxDimension`.
    /// - Without a frame, or when the bytes cannot be decoded (corrupt, truncated, too
    ///   large), it still produces evidence: the card saying
    ///   `no frame available: <reason>` (the decode error is the reason), so a work order
    ///   never goes out without an image.
    ///
    /// - Returns: the JPEG plus whether it is a real frame or the card.
    public static func renderJPEG(frameData: Data?, annotations: [BoxAnnotation], banner: BannerInfo, severity: Int,
                                  missingFrameReason: String = "no image in the detection",
                                  maxBytes: Int = 1_000_000, maxDimension: Int = 1920,
                                  options: RenderOptions = RenderOptions()) throws -> (jpeg: FittedJPEG, usedFrame: Bool) {
        var reason = missingFrameReason
        if let frameData {
            do {
                let fitted = try renderFitted(frameData: frameData, annotations: annotations, banner: banner, severity: severity,
                                              maxBytes: maxBytes, maxDimension: maxDimension, options: options)
                return (fitted, true)
            } catch let e as EvidenceError {
                switch e {
                case .cannotFit: throw e
                default: reason = "frame unreadable (\(e))"
                }
            }
        }
        let a = annotations.first
        let card = card(reason: reason, banner: banner, defectClass: a?.defectClass ?? "unknown", confidence: a?.confidence,
                        detectionId: a?.detectionId, severity: severity)
        return (try card.fit(maxBytes: maxBytes, maxDimension: maxDimension), false)
    }
}
