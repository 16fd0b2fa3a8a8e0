import Hummingbird

/// Every CMMS emulator `millwright emulate KIND` can run, with what it covers (shown in
/// `--help`). Add a line here for each new emulator.
public enum EmulatorRegistry {
    public struct Entry: Sendable {
        public var kind: String
        public var covers: String
        public var router: @Sendable (EmulatorState) -> Router<BasicRequestContext>
    }

    public static let all: [Entry] = [
        Entry(kind: "sandbox", covers: "Millwright's reference CMMS: create, lookup by external reference, status read/change, notes, attachments; Bearer auth",
              router: SandboxEmulator.router),
    ]

    public static func entry(_ kind: String) -> Entry? { all.first { $0.kind == kind } }
}
