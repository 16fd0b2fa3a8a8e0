import Foundation
import Hummingbird
import Store

/// Cursor pagination for every list (PRODUCT §9): `?cursor=`, `next_cursor` in the body and
/// an RFC 8288 `Link: <…>; rel="next"` header, both only when there is a next page.
///
/// A cursor is a position in one list, `<list>~<time>~<id>[~<id>]`: the list's tag, the last
/// row's stored time (the shortest decimal that reads back to the same Double), and its ids in
/// base64url without padding. Clients should treat it as opaque; its grammar is in the OpenAPI
/// document (`pattern`) and every string that matches it is a valid position, so a client
/// generator's schema-valid cursor is never refused. A cursor of another list, or one that
/// breaks the grammar, is a 400 problem.
enum ListCursor {
    enum List: String, CaseIterable {
        case detections = "d1", incidents = "i1", workOrders = "w1", reservations = "r1", technicians = "t1", audit = "a1"
        /// How many ids follow the time.
        var ids: Int { self == .reservations ? 2 : 1 }

        /// `cursorDetections`, … in the OpenAPI document.
        var openAPIName: String {
            switch self {
            case .detections: "Detections"
            case .incidents: "Incidents"
            case .workOrders: "WorkOrders"
            case .reservations: "Reservations"
            case .technicians: "Technicians"
            case .audit: "Audit"
            }
        }

        /// The grammar, for the OpenAPI document; `decode` accepts exactly this.
        var pattern: String {
            "^\(rawValue)~[0-9]{1,16}(\\.[0-9]{1,24})?" + String(repeating: "~[A-Za-z0-9_-]{0,\(ListCursor.maxIdCharacters)}", count: ids) + "$"
        }
    }

    /// One `cursor<List>` parameter per list for the OpenAPI document's `components.parameters`,
    /// each with that list's grammar.
    static var openAPIParameters: String {
        List.allCases.map { list in
            """
                cursor\(list.openAPIName):
                  name: cursor
                  in: query
                  description: The `next_cursor` of the previous page of this list; leave it out for the first (newest) page. Treat it as opaque. Every string of this grammar is a position in the list; another list's cursor is a 400 problem.
                  schema: { type: string, pattern: '\(list.pattern)' }

            """
        }.joined()
    }

    /// Ids are at most 128 UTF-8 bytes (detection ids) or UUIDs; 684 base64url characters hold 512 bytes.
    static let maxIdCharacters = 684

    static func encode(_ key: PageKey, list: List) -> String {
        ([list.rawValue, timeText(key.time)] + key.ids.map { Base64URL.encode(Data($0.utf8)) }).joined(separator: "~")
    }

    /// Stored times are Unix seconds with at most millisecond digits, far below 1e16, so
    /// Swift's shortest round-trip text never needs an exponent.
    static func timeText(_ t: Double) -> String {
        guard t.isFinite, t >= 0, t < 1e16 else { return "0" }
        let text = "\(t)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    static func decode(_ text: String, list: List) throws -> PageKey {
        func bad(_ why: String) -> Problem {
            Problem(.badRequest, type: "invalid-cursor", detail: "cursor is not valid: \(why). Use the next_cursor (or the Link header) of a previous page of this list, or leave cursor out to start at the newest.")
        }
        let parts = text.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard let tag = parts.first, !text.isEmpty else { throw bad("it is empty") }
        guard tag == list.rawValue else {
            throw bad(List(rawValue: tag) != nil ? "it belongs to another list" : "it does not start with '\(list.rawValue)~'")
        }
        guard parts.count == 2 + list.ids else { throw bad("a cursor of this list has \(2 + list.ids) parts separated by '~'") }
        let time = parts[1]
        let digits = time.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(digits.count), digits.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }),
              digits[0].utf8.count <= 16, digits.count == 1 || digits[1].utf8.count <= 24, let seconds = Double(time), seconds.isFinite else {
            throw bad("its time must be decimal seconds")
        }
        var ids: [String] = []
        for id in parts.dropFirst(2) {
            guard id.utf8.count <= maxIdCharacters, let bytes = Base64URL.decode(id) else { throw bad("its ids must be base64url without padding") }
            ids.append(String(decoding: bytes, as: UTF8.self))
        }
        return PageKey(time: seconds, ids: ids)
    }

    /// The key to continue after, from `?cursor=` (nil: start at the newest).
    static func after(_ request: Request, list: List) throws -> PageKey? {
        let values = request.uri.queryParameters.getAll("cursor")
        guard values.count <= 1 else { throw Problem(.badRequest, type: "invalid-cursor", detail: "give cursor at most once") }
        return try values.first.map { try decode(String($0), list: list) }
    }

    /// The list body `{items, next_cursor?}` and, when there is a next page, its `Link`
    /// header: the same path and query with `cursor` replaced.
    static func response<Item: Encodable & Sendable>(_ page: Page<Item>, list: List, request: Request) -> Response {
        let cursor = page.next.map { encode($0, list: list) }
        var response = json(ListBody(items: page.items, nextCursor: cursor))
        if let cursor {
            response.headers[.init("Link")!] = "<\(nextTarget(request, cursor: cursor))>; rel=\"next\""
        }
        return response
    }

    /// Path and query of the next page: every other query parameter kept as the client
    /// spelled it, any `cursor` dropped, the new one appended.
    static func nextTarget(_ request: Request, cursor: String) -> String {
        var kept = (request.uri.query ?? "").split(separator: "&", omittingEmptySubsequences: true).filter { item in
            let name = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            return (name.removingPercentEncoding ?? name) != "cursor"
        }.map(String.init)
        kept.append("cursor=\(cursor)")
        return request.uri.path + "?" + kept.joined(separator: "&")
    }
}

struct ListBody<Item: Encodable>: Encodable {
    var items: [Item]
    /// Absent on the last page.
    var nextCursor: String?
}

/// Base64url without padding (RFC 4648 §5). Decoding takes any string of the alphabet: bits
/// left over after the last whole byte are dropped, as a position needs no canonical spelling.
enum Base64URL {
    static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0, bits = 0
        for c in text.utf8 {
            let v: UInt32
            switch c {
            case 0x41...0x5A: v = UInt32(c - 0x41)
            case 0x61...0x7A: v = UInt32(c - 0x61 + 26)
            case 0x30...0x39: v = UInt32(c - 0x30 + 52)
            case 0x2D: v = 62
            case 0x5F: v = 63
            default: return nil
            }
            buffer = (buffer << 6) | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
