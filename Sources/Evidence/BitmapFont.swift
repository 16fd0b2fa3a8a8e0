import Foundation

/// Millwright's own bitmap font: 5×9 glyph cells (7 rows cap height + 2 descender rows)
/// for every printable ASCII character 32…126, drawn by hand for this project as bit rows.
/// Rendered at integer scale factors (each font pixel becomes a `scale × scale` block),
/// so it stays crisp at any size and needs no system fonts or downloads.
///
/// Layout per character: advance = 6 font pixels (5 glyph + 1 spacing), line height =
/// 11 font pixels (9 glyph rows + 2 leading). Characters outside ASCII are folded
/// (diacritics stripped: "Förderband" → "Forderband"); anything still unknown draws as `?`.
public enum BitmapFont {
    public static let glyphWidth = 5
    public static let glyphHeight = 9
    public static let advance = 6
    public static let lineHeight = 11
    /// Rows of the cap height (ascender to baseline).
    public static let capHeight = 7

    /// Glyph rows as bit masks, bit 4 = leftmost column. Index = ASCII code − 32.
    public static let glyphs: [[UInt8]] = table.map { parse($0) }

    /// Bit rows of one character (folded to ASCII; `?` when unknown).
    public static func glyph(for scalar: Unicode.Scalar) -> [UInt8] {
        let v = scalar.value
        if v >= 32 && v <= 126 { return glyphs[Int(v) - 32] }
        return glyphs[Int(("?" as Unicode.Scalar).value) - 32]
    }

    /// Folds text to printable ASCII: strips diacritics, maps common typographic marks,
    /// replaces control characters with spaces, and anything left with `?`.
    public static func fold(_ text: String) -> String {
        // Printable ASCII folds to itself; skipping Foundation's folding matters because
        // layout measures the same strings many times per image.
        if text.utf8.allSatisfy({ $0 >= 32 && $0 <= 126 }) { return text }
        let stripped = text.folding(options: [.diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        var out = String.UnicodeScalarView()
        for s in stripped.unicodeScalars {
            switch s.value {
            case 32...126: out.append(s)
            case 0x09, 0x0A, 0x0D: out.append(" ")
            case 0x2018, 0x2019: out.append("'")
            case 0x201C, 0x201D: out.append("\"")
            case 0x2013, 0x2014, 0x2212: out.append("-")
            case 0x00D7: out.append("x")
            case 0x00B0: out.append("o")
            case 0x00DF: out.append("s"); out.append("s")
            case 0x2026: out.append("."); out.append("."); out.append(".")
            default: out.append("?")
            }
        }
        return String(out)
    }

    /// Pixel width of a single line of (folded) text at `scale`, without trailing spacing.
    public static func width(of text: String, scale: Int) -> Int {
        let n = fold(text).unicodeScalars.count
        return n == 0 ? 0 : (n * advance - 1) * max(1, scale)
    }

    /// Pixel height of one line of text at `scale` (glyph cell, no leading).
    public static func height(scale: Int) -> Int { glyphHeight * max(1, scale) }

    /// Truncates text (adding "..") so it fits `maxWidth` pixels at `scale`.
    public static func truncated(_ text: String, toWidth maxWidth: Int, scale: Int) -> String {
        let folded = fold(text)
        if width(of: folded, scale: scale) <= maxWidth { return folded }
        let maxChars = (maxWidth / max(1, scale) + 1) / advance
        guard maxChars > 2 else { return String(folded.prefix(max(0, maxChars))) }
        return String(folded.prefix(maxChars - 2)) + ".."
    }

    /// Draws one line of text with its top-left glyph-cell corner at (x, y). Clipped to
    /// the raster. Returns the drawn width.
    @discardableResult
    public static func draw(_ text: String, on raster: inout Raster, x: Int, y: Int, scale: Int, color: RGB) -> Int {
        let s = max(1, scale)
        var penX = x
        for scalar in fold(text).unicodeScalars {
            let rows = glyph(for: scalar)
            for (ry, bits) in rows.enumerated() where bits != 0 {
                // Merge horizontal runs so big scales fill few, wide rectangles.
                var col = 0
                while col < glyphWidth {
                    if bits & (0x10 >> UInt8(col)) != 0 {
                        var end = col + 1
                        while end < glyphWidth && bits & (0x10 >> UInt8(end)) != 0 { end += 1 }
                        raster.fill(PixelRect(x: penX + col * s, y: y + ry * s, width: (end - col) * s, height: s), color)
                        col = end
                    } else { col += 1 }
                }
            }
            penX += advance * s
        }
        return max(0, penX - x - s)
    }

    /// Draws text with a 1-font-pixel dark outline ("halo") so it reads on any background.
    @discardableResult
    public static func drawOutlined(_ text: String, on raster: inout Raster, x: Int, y: Int, scale: Int,
                                    color: RGB, outline: RGB = .black) -> Int {
        let o = max(1, scale / 2)
        for (dx, dy) in [(-o, 0), (o, 0), (0, -o), (0, o), (-o, -o), (o, o), (-o, o), (o, -o)] {
            draw(text, on: &raster, x: x + dx, y: y + dy, scale: scale, color: outline)
        }
        return draw(text, on: &raster, x: x, y: y, scale: scale, color: color)
    }

    static func parse(_ spec: String) -> [UInt8] {
        var rows = spec.split(separator: " ").map { row -> UInt8 in
            var v: UInt8 = 0
            for ch in row { v = (v << 1) | (ch == "#" ? 1 : 0) }
            return v
        }
        while rows.count < glyphHeight { rows.append(0) }
        return rows
    }

    // 5 columns per row, '#' = ink. Rows 0–6 are the cap height, rows 7–8 descenders.
    // Omitted trailing rows are blank.
    static let table: [String] = [
        /* 32 ' ' */ ".....",
        /* 33 ! */ "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",
        /* 34 " */ ".#.#. .#.#. .#.#.",
        /* 35 # */ ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",
        /* 36 $ */ "..#.. .#### #.#.. .###. ..#.# ####. ..#..",
        /* 37 % */ "##... ##..# ...#. ..#.. .#... #..## ...##",
        /* 38 & */ ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",
        /* 39 ' */ "..#.. ..#.. .#...",
        /* 40 ( */ "...#. ..#.. .#... .#... .#... ..#.. ...#.",
        /* 41 ) */ ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",
        /* 42 * */ "..... ..#.. #.#.# .###. #.#.# ..#..",
        /* 43 + */ "..... ..#.. ..#.. ##### ..#.. ..#..",
        /* 44 , */ "..... ..... ..... ..... ..... .##.. .##.. ..#.. .#...",
        /* 45 - */ "..... ..... ..... ##### ",
        /* 46 . */ "..... ..... ..... ..... ..... .##.. .##..",
        /* 47 / */ "..... ....# ...#. ..#.. .#... #....",
        /* 48 0 */ ".###. #...# #..## #.#.# ##..# #...# .###.",
        /* 49 1 */ "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
        /* 50 2 */ ".###. #...# ....# ...#. ..#.. .#... #####",
        /* 51 3 */ "##### ...#. ..#.. ...#. ....# #...# .###.",
        /* 52 4 */ "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
        /* 53 5 */ "##### #.... ####. ....# ....# #...# .###.",
        /* 54 6 */ "..##. .#... #.... ####. #...# #...# .###.",
        /* 55 7 */ "##### ....# ...#. ..#.. .#... .#... .#...",
        /* 56 8 */ ".###. #...# #...# .###. #...# #...# .###.",
        /* 57 9 */ ".###. #...# #...# .#### ....# ...#. .##..",
        /* 58 : */ "..... .##.. .##.. ..... .##.. .##..",
        /* 59 ; */ "..... .##.. .##.. ..... .##.. .##.. ..#.. .#...",
        /* 60 < */ "...#. ..#.. .#... #.... .#... ..#.. ...#.",
        /* 61 = */ "..... ..... ##### ..... #####",
        /* 62 > */ ".#... ..#.. ...#. ....# ...#. ..#.. .#...",
        /* 63 ? */ ".###. #...# ....# ...#. ..#.. ..... ..#..",
        /* 64 @ */ ".###. #...# ....# .##.# #.#.# #.#.# .###.",
        /* 65 A */ ".###. #...# #...# ##### #...# #...# #...#",
        /* 66 B */ "####. #...# #...# ####. #...# #...# ####.",
        /* 67 C */ ".###. #...# #.... #.... #.... #...# .###.",
        /* 68 D */ "###.. #..#. #...# #...# #...# #..#. ###..",
        /* 69 E */ "##### #.... #.... ####. #.... #.... #####",
        /* 70 F */ "##### #.... #.... ####. #.... #.... #....",
        /* 71 G */ ".###. #...# #.... #.### #...# #...# .####",
        /* 72 H */ "#...# #...# #...# ##### #...# #...# #...#",
        /* 73 I */ ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
        /* 74 J */ "..### ...#. ...#. ...#. ...#. #..#. .##..",
        /* 75 K */ "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
        /* 76 L */ "#.... #.... #.... #.... #.... #.... #####",
        /* 77 M */ "#...# ##.## #.#.# #.#.# #...# #...# #...#",
        /* 78 N */ "#...# #...# ##..# #.#.# #..## #...# #...#",
        /* 79 O */ ".###. #...# #...# #...# #...# #...# .###.",
        /* 80 P */ "####. #...# #...# ####. #.... #.... #....",
        /* 81 Q */ ".###. #...# #...# #...# #.#.# #..#. .##.#",
        /* 82 R */ "####. #...# #...# ####. #.#.. #..#. #...#",
        /* 83 S */ ".#### #.... #.... .###. ....# ....# ####.",
        /* 84 T */ "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
        /* 85 U */ "#...# #...# #...# #...# #...# #...# .###.",
        /* 86 V */ "#...# #...# #...# #...# #...# .#.#. ..#..",
        /* 87 W */ "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
        /* 88 X */ "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
        /* 89 Y */ "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
        /* 90 Z */ "##### ....# ...#. ..#.. .#... #.... #####",
        /* 91 [ */ ".###. .#... .#... .#... .#... .#... .###.",
        /* 92 \ */ "..... #.... .#... ..#.. ...#. ....#",
        /* 93 ] */ ".###. ...#. ...#. ...#. ...#. ...#. .###.",
        /* 94 ^ */ "..#.. .#.#. #...#",
        /* 95 _ */ "..... ..... ..... ..... ..... ..... ..... #####",
        /* 96 ` */ ".#... ..#.. ...#.",
        /* 97 a */ "..... ..... .###. ....# .#### #...# .####",
        /* 98 b */ "#.... #.... #.##. ##..# #...# #...# ####.",
        /* 99 c */ "..... ..... .###. #.... #.... #...# .###.",
        /* 100 d */ "....# ....# .##.# #..## #...# #...# .####",
        /* 101 e */ "..... ..... .###. #...# ##### #.... .###.",
        /* 102 f */ "..##. .#..# .#... ###.. .#... .#... .#...",
        /* 103 g */ "..... ..... .#### #...# #...# #...# .#### ....# .###.",
        /* 104 h */ "#.... #.... #.##. ##..# #...# #...# #...#",
        /* 105 i */ "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",
        /* 106 j */ "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..",
        /* 107 k */ "#.... #.... #..#. #.#.. ##... #.#.. #..#.",
        /* 108 l */ ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
        /* 109 m */ "..... ..... ##.#. #.#.# #.#.# #...# #...#",
        /* 110 n */ "..... ..... #.##. ##..# #...# #...# #...#",
        /* 111 o */ "..... ..... .###. #...# #...# #...# .###.",
        /* 112 p */ "..... ..... ####. #...# #...# #...# ####. #.... #....",
        /* 113 q */ "..... ..... .#### #...# #...# #...# .#### ....# ....#",
        /* 114 r */ "..... ..... #.##. ##..# #.... #.... #....",
        /* 115 s */ "..... ..... .###. #.... .###. ....# ####.",
        /* 116 t */ ".#... .#... ###.. .#... .#... .#..# ..##.",
        /* 117 u */ "..... ..... #...# #...# #...# #..## .##.#",
        /* 118 v */ "..... ..... #...# #...# #...# .#.#. ..#..",
        /* 119 w */ "..... ..... #...# #...# #.#.# #.#.# .#.#.",
        /* 120 x */ "..... ..... #...# .#.#. ..#.. .#.#. #...#",
        /* 121 y */ "..... ..... #...# #...# #...# #...# .#### ....# .###.",
        /* 122 z */ "..... ..... ##### ...#. ..#.. .#... #####",
        /* 123 { */ "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.",
        /* 124 | */ "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
        /* 125 } */ ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#...",
        /* 126 ~ */ "..... ..... .#... #.#.# ...#.",
    ]
}
