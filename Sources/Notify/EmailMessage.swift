import Foundation
import MillwrightCore

/// An address with an optional display name: `"A. Ortiz" <a.ortiz@plant.example>`.
public struct Mailbox: Sendable, Equatable {
    public var name: String?
    public var address: String
    public init(_ address: String, name: String? = nil) { self.address = address; self.name = name }

    var header: String {
        guard let name, !name.isEmpty else { return address }
        if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(address)>"
        }
        return "\(MIME.encodedWords(name, firstLinePrefix: 0).joined(separator: " ")) <\(address)>"
    }
}

/// A notification e-mail: text body, optional HTML alternative.
public struct EmailMessage: Sendable, Equatable {
    public var from: Mailbox
    public var to: [Mailbox]
    public var cc: [Mailbox] = []
    public var subject: String
    public var text: String
    public var html: String?
    public var date: Date
    /// Without angle brackets; generated from `date` and a random part if nil.
    public var messageID: String?
    public var extraHeaders: [(String, String)] = []

    public init(from: Mailbox, to: [Mailbox], subject: String, text: String, html: String? = nil,
                date: Date, messageID: String? = nil) {
        self.from = from; self.to = to; self.subject = subject; self.text = text; self.html = html
        self.date = date; self.messageID = messageID
    }

    public static func == (l: EmailMessage, r: EmailMessage) -> Bool {
        l.from == r.from && l.to == r.to && l.cc == r.cc && l.subject == r.subject && l.text == r.text && l.html == r.html
            && l.date == r.date && l.messageID == r.messageID && l.extraHeaders.elementsEqual(r.extraHeaders, by: { $0 == $1 })
    }

    public var envelope: SMTPEnvelope {
        SMTPEnvelope(from: from.address, recipients: (to + cc).map(\.address), data: render())
    }

    /// RFC 5322 text with CRLF line endings. `boundary` is injectable for stable test output.
    public func render(boundary: String? = nil) -> [UInt8] {
        var h: [String] = []
        h.append("From: \(from.header)")
        h.append(MIME.fold("To: " + to.map(\.header).joined(separator: ", ")))
        if !cc.isEmpty { h.append(MIME.fold("Cc: " + cc.map(\.header).joined(separator: ", "))) }
        h.append("Subject: " + MIME.encodeHeaderValue(subject, nameLength: 9))
        h.append("Date: \(MIME.rfc5322Date(date))")
        let domain = from.address.split(separator: "@").last.map(String.init) ?? "millwright.invalid"
        let id = messageID ?? "\(Int(date.timeIntervalSince1970 * 1000)).\(UInt64.random(in: 0...UInt64.max))@\(domain)"
        h.append("Message-ID: <\(id)>")
        h.append("MIME-Version: 1.0")
        for (k, v) in extraHeaders { h.append("\(k): \(MIME.encodeHeaderValue(v, nameLength: k.count + 2))") }

        var body: [String] = []
        if let html {
            let b = boundary ?? "mw-\(UInt64.random(in: 0...UInt64.max))"
            h.append("Content-Type: multipart/alternative; boundary=\"\(b)\"")
            body.append("--\(b)")
            body += MIME.part(text, subtype: "plain")
            body.append("--\(b)")
            body += MIME.part(html, subtype: "html")
            body.append("--\(b)--")
        } else {
            let p = MIME.part(text, subtype: "plain")
            h += p.prefix(2)           // Content-Type, Content-Transfer-Encoding
            body += p.dropFirst(3)     // skip the blank line the part carries
        }
        return Array((h.joined(separator: "\r\n") + "\r\n\r\n" + body.joined(separator: "\r\n") + "\r\n").utf8)
    }
}

enum MIME {
    /// A body part: 7bit when the text is short-lined ASCII, otherwise base64 (safe through any relay).
    static func part(_ text: String, subtype: String) -> [String] {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        let ascii = text.utf8.allSatisfy { $0 < 0x80 } && lines.allSatisfy { $0.utf8.count <= 998 }
        if ascii {
            return ["Content-Type: text/\(subtype); charset=utf-8", "Content-Transfer-Encoding: 7bit", ""] + lines.map(String.init)
        }
        let b64 = Base64.encode(Array(text.utf8))
        var out = ["Content-Type: text/\(subtype); charset=utf-8", "Content-Transfer-Encoding: base64", ""]
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 76, limitedBy: b64.endIndex) ?? b64.endIndex
            out.append(String(b64[i..<j])); i = j
        }
        return out
    }

    /// Plain ASCII stays as is (folded); anything else becomes RFC 2047 encoded words.
    static func encodeHeaderValue(_ value: String, nameLength: Int) -> String {
        let clean = value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) && !clean.contains("=?") {
            // Fold as if the header name were there, then drop the stand-in.
            let standIn = String(repeating: "x", count: max(0, nameLength - 1)) + " "
            return String(fold(standIn + clean).dropFirst(standIn.count))
        }
        return encodedWords(clean, firstLinePrefix: nameLength).joined(separator: "\r\n ")
    }

    /// `=?UTF-8?B?…?=` words of at most 75 characters each, split only between whole characters
    /// so no multi-byte sequence is cut (RFC 2047 §5).
    static func encodedWords(_ s: String, firstLinePrefix: Int) -> [String] {
        let overhead = "=?UTF-8?B??=".count
        var words: [String] = []
        var chunk: [UInt8] = []
        func encodedLength(_ n: Int) -> Int { (n + 2) / 3 * 4 }
        for ch in s {
            let bytes = Array(String(ch).utf8)
            if !chunk.isEmpty && overhead + encodedLength(chunk.count + bytes.count) > 75 {
                words.append("=?UTF-8?B?\(Base64.encode(chunk))?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?\(Base64.encode(chunk))?=") }
        return words
    }

    /// Folds a header line at spaces to stay under 78 characters.
    static func fold(_ line: String) -> String {
        guard line.count > 78 else { return line }
        var out: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            if current.isEmpty { current = String(word) }
            else if current.count + 1 + word.count > 78 { out.append(current); current = String(word) }
            else { current += " " + word }
        }
        out.append(current)
        return out.joined(separator: "\r\n ")
    }

    /// `Sun, 22 Nov 2026 01:02:03 +0000` — always UTC, no locale involved.
    static func rfc5322Date(_ d: Date) -> String {
        let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let t = Int(d.timeIntervalSince1970.rounded(.down))
        let dayNum = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - dayNum * 86400
        let date = LocalDate(dayNumber: dayNum)
        let (day, month, year) = (date.day, date.month, date.year)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[((dayNum % 7) + 7) % 7]), \(day) \(months[month - 1]) \(year) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60)) +0000"
    }
}
