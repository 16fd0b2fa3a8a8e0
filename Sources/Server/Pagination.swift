import Foundation
import Hummingbird
import Store

/// Cursor pagination for every list (PRODUCT §9): `?cursor=`, `next_cursor` in the body and
/// an RFC 8288 `Link: <…>; rel="next"` header, both only when there is a next page.
///
/// A cursor is opaque to clients: base64url (no padding) of a JSON array of strings —
/// the list it belongs to, the bit pattern of the last row's stored time as 16 hex digits,
/// then the last row's ids. It is decoded strictly; anything else is a 400 problem.
enum ListCursor {
    enum List: String, CaseIterable {
        case detections = "d1", incidents = "i1", workOrders = "w1", reservations = "r1", technicians = "t1"
        /// How many ids follow the time.
        var ids: Int { self == .reservations ? 2 : 1 }
    }

    static let maxLength = 2048

    static func encode(_ key: PageKey, list: List) -> String {
        let parts = [list.rawValue, hex16(key.time.bitPattern)] + key.ids
        let data = (try? JSONEncoder().encode(parts)) ?? Data()
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func hex16(_ v: UInt64) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h
    }

    static func decode(_ text: String, list: List) throws -> PageKey {
        func bad(_ why: String) -> Problem {
            Problem(.badRequest, type: "invalid-cursor", detail: "cursor is not valid: \(why). Use the next_cursor (or the Link header) of a previous page of this list, or leave cursor out to start at the newest.")
        }
        guard !text.isEmpty else { throw bad("it is empty") }
        guard text.utf8.count <= maxLength else { throw bad("it is longer than \(maxLength) characters") }
        guard text.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x5F }) else {
            throw bad("it must be base64url without padding")
        }
        var b64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        if b64.count % 4 == 1 { throw bad("it must be base64url without padding") }
        b64 += String(repeating: "=", count: (4 - b64.count % 4) % 4)
        guard let data = Data(base64Encoded: b64) else { throw bad("it must be base64url without padding") }
        guard let parts = try? JSONDecoder().decode([String].self, from: data), let tag = parts.first else { throw bad("it was not made by this server") }
        guard tag == list.rawValue else {
            throw bad(List(rawValue: tag) != nil ? "it belongs to another list" : "it was not made by this server")
        }
        guard parts.count == 2 + list.ids else { throw bad("it was not made by this server") }
        let hex = parts[1]
        guard hex.utf8.count == 16, hex.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }),
              let bits = UInt64(hex, radix: 16), Double(bitPattern: bits).isFinite else { throw bad("it was not made by this server") }
        let ids = Array(parts.dropFirst(2))
        guard ids.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 512 }) else { throw bad("it was not made by this server") }
        let key = PageKey(time: Double(bitPattern: bits), ids: ids)
        // One spelling per position: what does not re-encode to itself was not made here.
        guard encode(key, list: list) == text else { throw bad("it was not made by this server") }
        return key
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
