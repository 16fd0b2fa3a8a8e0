import Foundation

/// This package's folders, from this file's place in it (`Tests/MillwrightTesting/`). No
/// environment variable and nothing outside the clone: a fresh checkout tests itself.
public enum PackagePaths {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let fixtures = root.appendingPathComponent("Tests/Fixtures")
}

/// The one place tests find the official spec files: `Tests/Fixtures/specs` (SOURCES.md there
/// names where each came from).
public enum Specs {
    public static let root = PackagePaths.fixtures.appendingPathComponent("specs")
    public static func folder(_ name: String) -> URL { root.appendingPathComponent(name) }
}
