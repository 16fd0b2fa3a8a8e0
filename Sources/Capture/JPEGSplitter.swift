import Foundation

/// Splits a byte stream of concatenated JPEG images (ffmpeg's `image2pipe` with the `mjpeg`
/// encoder) into whole frames. It follows the JPEG structure rather than searching for the
/// end marker: marker segments are skipped by their declared length (an APP segment may hold a
/// thumbnail with its own SOI/EOI), and only entropy-coded data is scanned, where a 0xFF byte is
/// always stuffed (FF 00) or a restart marker. Bytes before a frame's SOI are skipped and
/// counted. A frame that grows past `maxFrameBytes`, or breaks the structure, is dropped
/// whole and the splitter looks for the next SOI, so no input can make it hold more than
/// `maxFrameBytes`.
public struct JPEGSplitter: Sendable {
    public enum Event: Sendable, Equatable {
        case frame(Data)
        case dropped(Drop)
    }

    public enum Drop: Sendable, Equatable {
        /// The frame was longer than the bound.
        case oversize
        /// The bytes did not follow the JPEG structure; the reason is for the log.
        case corrupt(String)
    }

    private enum State: Sendable {
        /// Looking for FF D8; `sawFF`: the previous byte was FF.
        case seeking(sawFF: Bool)
        /// Expecting FF before a marker code.
        case marker
        /// After FF: the marker code (or FF fill bytes).
        case markerCode
        case lengthHigh(code: UInt8)
        case lengthLow(code: UInt8, high: UInt8)
        /// Passing over a segment body; SOS (DA) is followed by entropy-coded data.
        case segment(code: UInt8, remaining: Int)
        case entropy
        /// FF inside entropy-coded data: 00 and RSTn continue the data, anything else is a marker.
        case entropyFF
    }

    public let maxFrameBytes: Int
    private var state: State = .seeking(sawFF: false)
    private var frame: [UInt8] = []
    /// Bytes outside any frame, skipped while looking for an SOI.
    public private(set) var skippedBytes = 0

    public init(maxFrameBytes: Int) {
        precondition(maxFrameBytes >= 4, "a JPEG needs at least SOI and EOI")
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes of the frame in progress (never more than `maxFrameBytes`).
    public var pendingBytes: Int { frame.count }

    /// Feeds the next bytes of the stream; returns the frames completed and drops made by them.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
        var events: [Event] = []
        let input = Array(bytes)
        var i = 0
        let n = input.count
        while i < n {
            switch state {
            case .seeking(let sawFF):
                let b = input[i]
                i += 1
                if sawFF && b == 0xD8 {
                    skippedBytes -= 1 // the FF was counted as skipped; it is the frame's
                    frame = [0xFF, 0xD8]
                    state = .marker
                } else {
                    skippedBytes += 1
                    state = .seeking(sawFF: b == 0xFF)
                }
            case .marker:
                let b = input[i]
                i += 1
                guard append(b, &events) else { continue }
                if b == 0xFF { state = .markerCode } else { drop(.corrupt("byte 0x\(String(b, radix: 16)) where a marker was expected"), &events) }
            case .markerCode:
                let b = input[i]
                i += 1
                guard append(b, &events) else { continue }
                marker(b, &events)
            case .lengthHigh(let code):
                let b = input[i]
                i += 1
                guard append(b, &events) else { continue }
                state = .lengthLow(code: code, high: b)
            case .lengthLow(let code, let high):
                let b = input[i]
                i += 1
                guard append(b, &events) else { continue }
                let length = Int(high) << 8 | Int(b)
                guard length >= 2 else { drop(.corrupt("segment length \(length)"), &events); continue }
                state = length == 2 ? after(code) : .segment(code: code, remaining: length - 2)
            case .segment(let code, let remaining):
                let take = min(remaining, n - i)
                guard let used = append(input[i..<(i + take)], &events, at: &i) else { continue }
                i += used
                state = remaining == take ? after(code) : .segment(code: code, remaining: remaining - take)
            case .entropy:
                let end = input[i...].firstIndex(of: 0xFF) ?? n
                let upTo = end < n ? end + 1 : n
                guard let used = append(input[i..<upTo], &events, at: &i) else { continue }
                i += used
                if end < n { state = .entropyFF }
            case .entropyFF:
                let b = input[i]
                i += 1
                guard append(b, &events) else { continue }
                switch b {
                case 0x00, 0xD0...0xD7: state = .entropy
                case 0xFF: break
                default: marker(b, &events)
                }
            }
        }
        return events
    }

    private func after(_ code: UInt8) -> State { code == 0xDA ? .entropy : .marker }

    /// A marker code just appended to the frame.
    private mutating func marker(_ code: UInt8, _ events: inout [Event]) {
        switch code {
        case 0xFF: state = .markerCode // fill byte
        case 0xD9:
            events.append(.frame(Data(frame)))
            frame = []
            state = .seeking(sawFF: false)
        case 0xD8:
            // A new image before this one ended: drop this one, start that one.
            drop(.corrupt("SOI inside a frame"), &events)
            frame = [0xFF, 0xD8]
            state = .marker
        case 0xD0...0xD7: state = .entropy
        case 0x01: state = .marker
        case 0x00: drop(.corrupt("marker code 0x00 outside entropy-coded data"), &events)
        default: state = .lengthHigh(code: code)
        }
    }

    /// Appends to the frame in progress, or drops it when that would pass the bound.
    private mutating func append(_ b: UInt8, _ events: inout [Event]) -> Bool {
        guard frame.count < maxFrameBytes else { drop(.oversize, &events); return false }
        frame.append(b)
        return true
    }

    /// Appends all of `bytes` and returns their count, or — when they would pass the bound —
    /// drops the frame at the byte that passes it and returns nil, having moved `i` past that
    /// byte. Either way the same bytes are dropped however the stream was cut into reads.
    private mutating func append(_ bytes: ArraySlice<UInt8>, _ events: inout [Event], at i: inout Int) -> Int? {
        let room = maxFrameBytes - frame.count
        guard bytes.count <= room else {
            i = bytes.startIndex + room + 1
            drop(.oversize, &events)
            return nil
        }
        frame.append(contentsOf: bytes)
        return bytes.count
    }

    private mutating func drop(_ why: Drop, _ events: inout [Event]) {
        events.append(.dropped(why))
        frame = []
        state = .seeking(sawFF: false)
    }
}
