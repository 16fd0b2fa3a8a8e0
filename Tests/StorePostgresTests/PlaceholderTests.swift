import Testing
@testable import StorePostgres

@Suite struct PlaceholderTests {
    @Test func questionMarksAreNumberedInOrder() {
        #expect(Placeholders.translate("SELECT * FROM t WHERE a = ? AND b > ?") == "SELECT * FROM t WHERE a = $1 AND b > $2")
        #expect(Placeholders.translate("INSERT INTO t VALUES (?, ?, ?)") == "INSERT INTO t VALUES ($1, $2, $3)")
        #expect(Placeholders.translate("SELECT 1") == "SELECT 1")
    }

    @Test func numberedPlaceholdersKeepTheirNumberAndMayRepeat() {
        #expect(Placeholders.translate("UPDATE t SET a = ?1 WHERE b = ?2 OR c = ?1") == "UPDATE t SET a = $1 WHERE b = $2 OR c = $1")
        // As in SQLite, a bare ? takes one more than the largest number so far.
        #expect(Placeholders.translate("SELECT ?2, ?, ?1") == "SELECT $2, $3, $1")
        #expect(Placeholders.translate("SELECT ?10") == "SELECT $10")
    }

    @Test func quotesAndCommentsAreLeftAlone() {
        #expect(Placeholders.translate("SELECT '?' || ? FROM t") == "SELECT '?' || $1 FROM t")
        #expect(Placeholders.translate("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1")
        #expect(Placeholders.translate(#"SELECT "odd?name" FROM t WHERE x = ?"#) == #"SELECT "odd?name" FROM t WHERE x = $1"#)
        #expect(Placeholders.translate("SELECT ? -- why? because\n, ?") == "SELECT $1 -- why? because\n, $2")
        #expect(Placeholders.translate("SELECT /* a ? here */ ?") == "SELECT /* a ? here */ $1")
        #expect(Placeholders.translate("SELECT 5 - -? , 4-?") == "SELECT 5 - -$1 , 4-$2")
    }

    @Test func nonASCIITextSurvives() {
        #expect(Placeholders.translate("SELECT 'Grüße ?', ? -- 工場?") == "SELECT 'Grüße ?', $1 -- 工場?")
    }

    @Test func theCacheIsBounded() {
        let cache = PlaceholderCache(capacity: 3)
        for i in 0..<10 { #expect(cache.translate("SELECT ? + \(i)") == "SELECT $1 + \(i)") }
        #expect(cache.count <= 3)
        #expect(cache.translate("SELECT ? + 9") == "SELECT $1 + 9")
    }
}
