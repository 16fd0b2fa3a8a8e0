@testable import Capture
import Evidence
import Foundation
import Testing

/// The splitter against real frames (libjpeg-turbo's, as ffmpeg's mjpeg stream carries them)
/// and against the structures a naive search for FF D9 gets wrong.
@Suite struct JPEGSplitterTests {
    static let real: [Data] = (1...3).map { try! JPEG.encode(SyntheticFrame.generate(width: 96, height: 64, seed: UInt64($0))) }

    /// SOI, an APP1 segment holding a whole thumbnail JPEG (its own SOI/EOI), SOS, entropy data
    /// with a stuffed FF 00 and a restart marker, EOI.
    static let withThumbnail: Data = {
        let thumb: [UInt8] = [0xFF, 0xD8, 0x01, 0x02, 0xFF, 0xD9]
        var b: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, UInt8(2 + thumb.count)] + thumb
        b += [0xFF, 0xDA, 0x00, 0x04, 0x01, 0x02] + [0x11, 0xFF, 0x00, 0x22, 0xFF, 0xD0, 0x33, 0xFF, 0xFF, 0xD9]
        return Data(b)
    }()

    func frames(_ events: [JPEGSplitter.Event]) -> [Data] {
        events.compactMap { if case .frame(let d) = $0 { d } else { nil } }
    }

    @Test func realFramesComeOutWhole() {
        var s = JPEGSplitter(maxFrameBytes: 1 << 20)
        let out = frames(s.feed(Self.real.reduce(Data(), +)))
        #expect(out == Self.real)
        #expect(s.skippedBytes == 0 && s.pendingBytes == 0)
    }

    /// Fed one byte at a time, the same frames: the state carries across reads.
    @Test func framesSplitAcrossReadsAreReassembled() {
        var s = JPEGSplitter(maxFrameBytes: 1 << 20)
        var out: [Data] = []
        for byte in Self.real.reduce(Data(), +) + Self.withThumbnail { out += frames(s.feed([byte])) }
        #expect(out == Self.real + [Self.withThumbnail])
    }

    @Test func anEmbeddedThumbnailDoesNotEndTheFrame() {
        var s = JPEGSplitter(maxFrameBytes: 1024)
        #expect(frames(s.feed(Self.withThumbnail)) == [Self.withThumbnail])
    }

    @Test func bytesBetweenFramesAreSkippedAndCounted() {
        var s = JPEGSplitter(maxFrameBytes: 1 << 20)
        let garbage = Data("ffmpeg noise".utf8) + Data([0xFF, 0x00, 0xFF])
        let out = frames(s.feed(garbage + Self.real[0] + garbage + Self.real[1]))
        #expect(out == [Self.real[0], Self.real[1]])
        #expect(s.skippedBytes == 2 * garbage.count)
    }

    /// A frame past the bound is dropped whole; the next frame still comes through, and the
    /// splitter never holds more than the bound.
    @Test func aFrameOverTheBoundIsDroppedAndTheNextKept() {
        let big = Self.real[0], small = Self.withThumbnail
        var s = JPEGSplitter(maxFrameBytes: small.count + 10)
        #expect(big.count > small.count + 10)
        var events: [JPEGSplitter.Event] = []
        for chunk in stride(from: 0, to: big.count, by: 7).map({ big[$0..<min($0 + 7, big.count)] }) {
            events += s.feed(chunk)
            #expect(s.pendingBytes <= s.maxFrameBytes)
        }
        events += s.feed(small)
        #expect(events.contains { if case .dropped(.oversize) = $0 { true } else { false } })
        #expect(frames(events) == [small])
    }

    @Test func aBrokenStructureIsDroppedAndTheStreamResynchronises() {
        var s = JPEGSplitter(maxFrameBytes: 1 << 20)
        // SOI then a byte that is not a marker; then a frame cut off in its entropy-coded data by a new SOI.
        let broken = Data([0xFF, 0xD8, 0x42]) + Self.real[0].prefix(Self.real[0].count - 20)
        let events = s.feed(broken + Self.real[1])
        #expect(frames(events) == [Self.real[1]])
        #expect(events.filter { if case .dropped(.corrupt) = $0 { true } else { false } }.count == 2)
    }

    @Test func aSegmentLengthBelowTwoIsCorrupt() {
        var s = JPEGSplitter(maxFrameBytes: 1024)
        let events = s.feed([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0xFF, 0xD9])
        #expect(frames(events).isEmpty)
        #expect(events.first == .dropped(.corrupt("segment length 1")))
    }
}
