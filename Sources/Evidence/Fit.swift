import Foundation

/// A JPEG that fits the attachment limits of a CMMS.
public struct FittedJPEG: Sendable, Equatable {
    public var data: Data
    public var width: Int
    public var height: Int
    public var quality: Int
}

extension Raster {
    /// Encodes as JPEG under `maxBytes` with the longer side at most `maxDimension`.
    ///
    /// Steps: box-filter downscale to `maxDimension`; encode at falling quality
    /// (90 → 50 in steps); if still too big, downscale by 0.8 and retry, down to
    /// `minDimension`. Quality is lowered before size because size loss hurts the small
    /// text and inset more than JPEG quality does. To keep text and insets crisp at the
    /// final size, prefer `EvidenceRenderer.renderFitted`, which renders at the target
    /// resolution instead of shrinking an already annotated image.
    public func fit(maxBytes: Int, maxDimension: Int, qualities: [Int] = [90, 82, 74, 66, 58, 50],
                    minDimension: Int = 320) throws -> FittedJPEG {
        var current = fitted(maxDimension: maxDimension)
        var smallest = Int.max
        while true {
            for q in qualities {
                let data = try JPEG.encode(current, quality: q)
                smallest = Swift.min(smallest, data.count)
                if data.count <= maxBytes {
                    return FittedJPEG(data: data, width: current.width, height: current.height, quality: q)
                }
            }
            let longest = Swift.max(current.width, current.height)
            guard longest > minDimension else { throw EvidenceError.cannotFit(maxBytes: maxBytes, smallestBytes: smallest) }
            let next = Swift.max(minDimension, Int(Double(longest) * 0.8))
            current = current.fitted(maxDimension: next)
        }
    }
}

extension EvidenceRenderer {
    /// Renders and encodes under the limits, drawing annotations at the final resolution
    /// (so label text, box strokes and the magnified inset stay legible) and only then
    /// stepping JPEG quality down; if that is not enough it re-renders smaller.
    public static func renderFitted(frame: Raster, annotations: [BoxAnnotation], banner: BannerInfo, severity: Int,
                                    maxBytes: Int, maxDimension: Int, options: RenderOptions = RenderOptions()) throws -> FittedJPEG {
        try fitting(longestSide: max(frame.width, frame.height), maxBytes: maxBytes, maxDimension: maxDimension, options: options) {
            render(frame: frame, annotations: annotations, banner: banner, severity: severity, options: $0)
        }
    }

    /// `renderFitted` from frame bytes, so each attempt decodes a JPEG at the DCT scale its size needs.
    static func renderFitted(frameData: Data, annotations: [BoxAnnotation], banner: BannerInfo, severity: Int,
                             maxBytes: Int, maxDimension: Int, options: RenderOptions) throws -> FittedJPEG {
        guard ImageFormat.sniff(frameData) == .jpeg else {
            let frame = try ImageDecoder.decode(frameData, maxPixels: options.maxPixels)
            return try renderFitted(frame: frame, annotations: annotations, banner: banner, severity: severity,
                                    maxBytes: maxBytes, maxDimension: maxDimension, options: options)
        }
        let header = try JPEG.header(of: frameData, maxPixels: options.maxPixels)
        return try fitting(longestSide: max(header.width, header.height), maxBytes: maxBytes, maxDimension: maxDimension, options: options) {
            try render(frameData: frameData, annotations: annotations, banner: banner, severity: severity, options: $0)
        }
    }

    private static func fitting(longestSide: Int, maxBytes: Int, maxDimension: Int, options: RenderOptions,
                                render: (RenderOptions) throws -> Raster) throws -> FittedJPEG {
        var dim = maxDimension
        var smallest = Int.max
        while true {
            var o = options
            o.maxDimension = dim
            let r = try render(o)
            for q in [88, 80, 72, 64, 56] {
                let data = try JPEG.encode(r, quality: q)
                smallest = min(smallest, data.count)
                if data.count <= maxBytes { return FittedJPEG(data: data, width: r.width, height: r.height, quality: q) }
            }
            guard dim > 320 else { throw EvidenceError.cannotFit(maxBytes: maxBytes, smallestBytes: smallest) }
            dim = max(320, Int(Double(min(dim, longestSide)) * 0.8))
        }
    }
}
