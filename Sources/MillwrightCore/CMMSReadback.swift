import Foundation

// What the technician left on a work order once it was closed — the closure code, their notes
// and a completion photo — as a connector reads it back once (`CMMSConnector.readBack`). The
// bounds live here so every connector and both stores hold the same ones.

/// The bounds of one read-back. The photo bound is below the connectors' response bound
/// (`HTTPTransport.maxResponseBytes`, 4 MiB) and the gateway's frame bound (6 MiB).
public enum ReadbackLimits {
    public static let closureCodeBytes = 200
    /// One note's text; longer notes are cut at a character boundary and marked.
    public static let noteBytes = 4_000
    /// All notes together.
    public static let notesBytes = 16_000
    public static let maxNotes = 50
    /// Attachments or documents listed on the work order that are looked at, at most.
    public static let maxAttachments = 50
    public static let photoBytes = 3 << 20
    /// Photo formats taken (by declared type first, then by the bytes' magic in the gateway).
    public static let photoTypes: Set<String> = ["image/jpeg", "image/jpg", "image/png"]
    /// A reason a part was not taken.
    public static let refusalBytes = 300
}

/// A technician's note as the CMMS answers it.
public struct ReadbackNote: Sendable, Equatable, Codable {
    public var text: String
    public var author: String?
    public var at: Date?
    public init(text: String, author: String? = nil, at: Date? = nil) { self.text = text; self.author = author; self.at = at }
}

/// The completion photo's bytes as downloaded (not yet checked for being an image: the gateway does).
public struct ReadbackPhoto: Sendable, Equatable {
    public var filename: String
    public var contentType: String?
    public var data: Data
    public init(filename: String, contentType: String?, data: Data) { self.filename = filename; self.contentType = contentType; self.data = data }
}

/// One read-back: what was found, and for each thing left out, why.
public struct CMMSReadback: Sendable, Equatable {
    public var closureCode: String?
    public var notes: [ReadbackNote]
    public var photo: ReadbackPhoto?
    /// What was not taken and why ("photo.png: 5242880 bytes, more than 3145728"): the rest is kept.
    public var refused: [String]

    public init(closureCode: String? = nil, notes: [ReadbackNote] = [], photo: ReadbackPhoto? = nil, refused: [String] = []) {
        self.closureCode = closureCode; self.notes = notes; self.photo = photo; self.refused = refused
    }

    /// The same within `ReadbackLimits`: a long code or note is cut, notes past the count or the
    /// total are dropped (each cut said in `refused`), and a photo over the bound is refused.
    public func bounded() -> CMMSReadback {
        var out = CMMSReadback(refused: refused.prefix(ReadbackLimits.maxNotes).map { Self.cut($0, ReadbackLimits.refusalBytes) })
        out.closureCode = closureCode.map { Self.cut($0.trimmingCharacters(in: .whitespacesAndNewlines), ReadbackLimits.closureCodeBytes) }
        if out.closureCode == "" { out.closureCode = nil }
        var total = 0
        for n in notes {
            let text = n.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            guard out.notes.count < ReadbackLimits.maxNotes else { out.refused.append("notes after the first \(ReadbackLimits.maxNotes) were not read"); break }
            var kept = Self.cut(text, ReadbackLimits.noteBytes)
            guard total + kept.utf8.count <= ReadbackLimits.notesBytes else {
                out.refused.append("notes past \(ReadbackLimits.notesBytes) bytes in all were not kept"); break
            }
            if kept.utf8.count < text.utf8.count { kept += " […]" }
            total += kept.utf8.count
            out.notes.append(ReadbackNote(text: kept, author: n.author.map { Self.cut($0, 200) }, at: n.at))
        }
        if let p = photo {
            if p.data.count > ReadbackLimits.photoBytes {
                out.refused.append("\(Self.cut(p.filename, 200)): \(p.data.count) bytes, more than \(ReadbackLimits.photoBytes)")
            } else {
                out.photo = ReadbackPhoto(filename: Self.cut(p.filename, 200), contentType: p.contentType.map { Self.cut($0, 100) }, data: p.data)
            }
        }
        return out
    }

    /// The first `bytes` of `s`'s UTF-8, never splitting a character.
    public static func cut(_ s: String, _ bytes: Int) -> String {
        guard s.utf8.count > bytes else { return s }
        var out = ""
        var used = 0
        for c in s {
            let n = c.utf8.count
            if used + n > bytes { break }
            out.append(c); used += n
        }
        return out
    }

    /// Whether a file listed on the work order is worth downloading as the completion photo: an
    /// image type we take, not one of Millwright's own evidence uploads (`<reference>-evidence.jpg`).
    public static func isCandidatePhoto(filename: String, contentType: String?, reference: String) -> Bool {
        if filename.hasPrefix(reference + "-evidence") { return false }
        if let t = contentType?.lowercased().split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespaces) }) {
            return ReadbackLimits.photoTypes.contains(t)
        }
        let lower = filename.lowercased()
        return lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") || lower.hasSuffix(".png")
    }

    /// Whether a note is one Millwright wrote itself (repeats, verdicts): not the technician's.
    public static func isOwnNote(_ text: String) -> Bool {
        text.hasPrefix("Millwright:") || text.hasPrefix("Millwright verdict:")
    }
}

/// What asking a CMMS for the read-back answered.
public enum CMMSReadbackResult: Sendable, Equatable {
    case read(CMMSReadback)
    /// The connector reads nothing back from this system; said once, in the timeline.
    case unsupported(String)
    /// The CMMS could not be read now (HTTP error, timeout): asked again on a later poll.
    case failed(String)
}
