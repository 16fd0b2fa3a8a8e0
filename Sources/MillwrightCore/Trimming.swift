import Foundation

extension String {
    /// `trimmingCharacters(in:)` for the whitespace sets, without Foundation's trip through
    /// NSString when neither end can be trimmed: an ASCII byte that is not a space or one of
    /// U+0009–U+000D is in neither `.whitespaces` nor `.whitespacesAndNewlines` (every other
    /// member of both sets is outside ASCII). Labels and camera ids on the ingest path nearly
    /// always take that shortcut.
    public func trimmingWhitespace(_ set: CharacterSet = .whitespacesAndNewlines) -> String {
        if let first = utf8.first, let last = utf8.last, Self.cannotBeTrimmed(first), Self.cannotBeTrimmed(last) { return self }
        return trimmingCharacters(in: set)
    }

    static func cannotBeTrimmed(_ byte: UInt8) -> Bool {
        byte < 0x80 && byte != 0x20 && !(0x09...0x0D).contains(byte)
    }
}
