import Foundation

/// Where a page of a list ends: the sort key of its last row, exactly as stored. Lists are
/// ordered newest first by (time, ids…) — `ids` ends with the primary key, so the order is
/// total — and the next page is read with `WHERE (time, ids…) < key` (keyset, never OFFSET):
/// rows inserted while a client pages cannot shift or repeat the rows it has still to read.
public struct PageKey: Sendable, Hashable {
    /// The stored REAL, bit for bit (a `Date` would not round-trip it).
    public var time: Double
    public var ids: [String]
    public init(time: Double, ids: [String]) { self.time = time; self.ids = ids }
}

/// One page of a list, and the key to continue after it (nil on the last page).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var next: PageKey?
    public init(items: [Item], next: PageKey?) { self.items = items; self.next = next }
}

extension Page {
    /// Reads `limit + 1` rows so the last page is known without an extra round trip: only
    /// when the extra row exists is there a next page, and it starts after row `limit`.
    public static func of<Row>(_ rows: [Row], limit: Int, key: (Row) -> PageKey, item: (Row) -> Item) -> Page {
        let more = rows.count > limit
        let kept = rows.prefix(limit)
        return Page(items: kept.map(item), next: more ? kept.last.map(key) : nil)
    }
}
