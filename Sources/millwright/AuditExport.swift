import ArgumentParser
import Crypto
import Foundation
import MillwrightCore
import Store

extension Audit {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write audit records (with their signatures and hashes) for an inspector, with a SHA-256 of the export.",
            discussion: """
            Writes the records between --since and --until, oldest first, each with its
            sequence number, time, kind, subject, data, previous hash and hash, so the
            export re-verifies on its own (`audit verify-export`). Beside the file goes
            FILE.sha256 with the export's SHA-256 and, when an audit key is configured,
            its HMAC-SHA256 under that key.

            Examples:
              millwright audit export --config millwright.yaml --since 2026-11-01T00:00:00Z --output nov.jsonl
              millwright audit export --config millwright.yaml --format csv --output trail.csv
            """)

        enum Format: String, ExpressibleByArgument { case jsonl, csv }

        @Option(name: .long, help: "The configuration file (storage and audit.key_env).") var config: String
        @Option(name: .long, help: "First time included (RFC 3339).") var since: String?
        @Option(name: .long, help: "First time not included (RFC 3339).") var until: String?
        @Option(name: .long, help: "jsonl (re-verifiable record by record) or csv (for a spreadsheet).") var format: Format = .jsonl
        @Option(name: .long, help: "The file to write.") var output: String

        func run() async throws {
            let settings = try Runtime.loadSettings(config)
            func date(_ s: String?, _ name: String) throws -> Date? {
                guard let s else { return nil }
                guard let d = Timestamps.parseISO(s) else { Runtime.printError("audit export: --\(name) '\(s)' is not an RFC 3339 time"); throw ExitCode(2) }
                return d
            }
            let from = try date(since, "since"), to = try date(until, "until")
            let store = Store(backend: try await Runtime.openBackend(settings))
            guard FileManager.default.createFile(atPath: output, contents: nil), let handle = FileHandle(forWritingAtPath: output) else {
                Runtime.printError("audit export: cannot write \(output)"); throw ExitCode(2)
            }
            var sha = SHA256()
            var mac = settings.audit.key?.newMAC()
            func write(_ line: String) throws {
                let d = Data((line + "\n").utf8)
                sha.update(data: d)
                mac?.update(data: d)
                try handle.write(contentsOf: d)
            }
            if format == .csv { try write("seq,at,kind,subject,data,prev_hash,hash") }
            var count = 0, after: Int64 = 0
            while true {
                let page = try await store.auditRecords(AuditQuery(since: from, until: to, afterSeq: after, limit: 1000))
                for r in page {
                    try write(format == .jsonl ? Self.jsonLine(r) : Self.csvLine(r))
                    count += 1
                }
                guard let last = page.last, page.count == 1000 else { break }
                after = last.seq
            }
            try handle.close()
            let digest = Hex.encode(Array(sha.finalize()))
            var sidecar = "sha256 \(digest)\n"
            if let mac { sidecar += "hmac-sha256 \(Hex.encode(Array(mac.finalize())))\n" }
            try Data(sidecar.utf8).write(to: URL(fileURLWithPath: output + ".sha256"))
            print("wrote \(count) audit record(s) to \(output)\nsha256 \(digest)" + (settings.audit.key == nil ? " (no audit key: no HMAC)" : "; HMAC in \(output).sha256"))
        }

        static func jsonLine(_ r: AuditRecord) -> String {
            var out = ""
            CanonicalJSON.write(.object([
                "seq": .number(Double(r.seq)), "at": .string(Timestamps.format(r.at)), "at_unix": .number(r.at.timeIntervalSince1970), "kind": .string(r.kind), "subject": .string(r.subject),
                "data": .object(r.data), "prev_hash": .string(r.prevHash), "hash": .string(r.hash),
            ]), into: &out)
            return out
        }

        static func csvLine(_ r: AuditRecord) -> String {
            var data = ""
            CanonicalJSON.write(.object(r.data), into: &data)
            return [String(r.seq), Timestamps.format(r.at), r.kind, r.subject, data, r.prevHash, r.hash].map(csvField).joined(separator: ",")
        }

        static func csvField(_ s: String) -> String {
            // A leading = + - @ would be a formula to a spreadsheet: quoted and prefixed.
            let guarded = s.first.map { "=+-@".contains($0) } == true ? "'" + s : s
            guard guarded.contains(where: { ",\"\n\r".contains($0) }) || guarded != s else { return s }
            return "\"" + guarded.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }

    struct VerifyExport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-export",
            abstract: "Check a JSONL audit export: its SHA-256 (and HMAC), every record's hash, the links between them and each signature's binding.",
            discussion: """
            Exit 0 when the export is the one written and its records are intact; 1 at
            the first problem. With --key-env (or --config with audit.key_env) the HMAC
            and sealed records are checked too.

            Example:
              millwright audit verify-export nov.jsonl --key-env MW_AUDIT_KEY
            """)

        @Argument(help: "The .jsonl export (its .sha256 beside it).") var file: String
        @Option(name: .long, help: "The configuration file (for audit.key_env).") var config: String?
        @Option(name: .customLong("key-env"), help: "The environment variable holding the audit key.") var keyEnv: String?

        func run() async throws {
            var key: AuditKey?
            if let config { key = try Runtime.loadSettings(config).audit.key }
            if let keyEnv { key = try Audit.key(fromEnv: keyEnv) }
            guard let data = FileManager.default.contents(atPath: file) else { Runtime.printError("verify-export: cannot read \(file)"); throw ExitCode(2) }
            guard let sidecar = FileManager.default.contents(atPath: file + ".sha256").flatMap({ String(data: $0, encoding: .utf8) }) else {
                Runtime.printError("verify-export: no \(file).sha256 beside the export"); throw ExitCode(2)
            }
            var expected: [String: String] = [:]
            for line in sidecar.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                if parts.count == 2 { expected[parts[0]] = parts[1] }
            }
            guard expected["sha256"] == Hex.encode(Array(SHA256.hash(data: data))) else {
                print("BROKEN \(file): its SHA-256 differs from \(file).sha256: the export was changed"); throw ExitCode(1)
            }
            if let key {
                guard let mac = expected["hmac-sha256"] else { print("BROKEN \(file): no HMAC in \(file).sha256, but a key was given"); throw ExitCode(1) }
                var computed = key.newMAC()
                computed.update(data: data)
                guard mac == Hex.encode(Array(computed.finalize())) else {
                    print("BROKEN \(file): the HMAC does not match under this key"); throw ExitCode(1)
                }
            }
            var previous: AuditRecord?
            var count = 0
            for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
                guard let o = try? JSONValue.parse(Data(line.utf8)).objectValue, let seq = o["seq"]?.doubleValue,
                      let at = o["at"]?.stringValue.flatMap(Timestamps.parseISO), let kind = o["kind"]?.stringValue,
                      let subject = o["subject"]?.stringValue, let d = o["data"]?.objectValue, let prevHash = o["prev_hash"]?.stringValue,
                      let hash = o["hash"]?.stringValue, let seqInt = Int64(exactly: seq) else {
                    print("BROKEN \(file):\(i + 1): not an audit record"); throw ExitCode(1)
                }
                // The stored time exactly (`at_unix`): the printed one is what was hashed, but a
                // date parsed from it need not print back the same millisecond.
                let stored = o["at_unix"]?.doubleValue.map { Date(timeIntervalSince1970: $0) } ?? at
                guard Timestamps.format(stored) == o["at"]?.stringValue else {
                    print("BROKEN \(file):\(i + 1): record \(seqInt): at and at_unix differ"); throw ExitCode(1)
                }
                let r = AuditRecord(seq: seqInt, at: stored, kind: kind, subject: subject, data: d, prevHash: prevHash, hash: hash)
                let sealedOK = key.map { r.computeHash(.hmac($0)) == hash } ?? false
                guard r.computeHash(.sha256) == hash || sealedOK else {
                    print("BROKEN \(file):\(i + 1): record \(seqInt) does not match its hash" + (key == nil ? " (sealed records need --key-env)" : "")); throw ExitCode(1)
                }
                if let p = previous {
                    guard seqInt == p.seq + 1, prevHash == p.hash else { print("BROKEN \(file):\(i + 1): record \(seqInt) does not follow record \(p.seq)"); throw ExitCode(1) }
                }
                if kind == SignatureManifest.auditKind, let problem = SignatureManifest.bindingProblem(signature: r, signed: previous) {
                    print("BROKEN \(file):\(i + 1): signature \(problem)"); throw ExitCode(1)
                }
                previous = r
                count += 1
            }
            print("ok: \(count) record(s) in \(file) verified" + (key == nil ? " (SHA-256 only; no HMAC checked)" : ", HMAC matches"))
        }
    }
}
