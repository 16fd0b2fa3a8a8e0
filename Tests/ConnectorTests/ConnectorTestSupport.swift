import MillwrightTesting
import Testing
import AsyncHTTPClient
import Connectors
import Emulators
import Foundation
import Hummingbird
import MillwrightCore
import NIOCore

enum Fixtures {
    static func draft(reference: String = "MW-ABCDEF123456", title: String = "Crack at C2 head pulley", priority: Priority = .critical,
                      functionalLocation: String? = "1010-C2-HP", description: String = "Defect: crack detected by camera CAM-07\nEvidence: https://mw.example/e/1") -> WorkOrderDraft {
        let sev = SeverityBreakdown(base: 70, size: 2, growth: 0, criticality: 15, history: 0, total: 87, notes: [])
        return WorkOrderDraft(reference: reference, incidentId: "inc-1", title: title, description: description,
                              asset: "10004712", assetName: "C2 head pulley", location: "LINE2", functionalLocation: functionalLocation, defectClass: "crack",
                              zone: "head-pulley", severity: 87, severityBreakdown: sev, priority: priority, priorityRule: "rule 1", confidence: 0.93,
                              camera: "CAM-07", detectedAt: Date(timeIntervalSince1970: 1_763_769_600 + 14 * 3600 + 5 * 60 + 9), detectionId: "d1",
                              productionOrder: "PO-4471", shift: "B", procedure: "Lock out.", parts: [], skills: [], evidenceURL: "https://mw.example/e/1", site: "plant-1")
    }

    /// A small valid JPEG header + payload; the emulators only check it is non-empty binary.
    static let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0] + Array(repeating: UInt8(0x42), count: 2048) + [0xFF, 0xD9])

    /// The CMMS spec files (`Tests/Fixtures/specs/cmms`), through the one locator, `Specs`.
    static var specs: URL { Specs.folder("cmms") }

    static func specFile(_ name: String) throws -> URL {
        let u = specs.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: u.path) else { throw SpecMissing(name: u.path) }
        return u
    }

    struct SpecMissing: Error { var name: String }
}

/// Drives a connector the way the dispatcher does: create; on `.unknown` look up by our
/// reference before creating again; retry `.retryable`; stop on `.permanent`.
enum Dispatch {
    static func deliver(_ c: any CMMSConnector, _ wo: WorkOrderDraft, maxAttempts: Int = 40) async -> DeliveryState.Outcome {
        // The gateway's own delivery state machine decides create or lookup; the clock jumps an
        // hour a step, past any backoff or Retry-After, so the test never sleeps.
        var policy = DispatchPolicy()
        policy.maxAttempts = maxAttempts
        var state = DeliveryState()
        let queued = Date()
        var now = queued
        var last: DeliveryState.Outcome = .lookupNotFound
        for _ in 0..<(maxAttempts * 4) {
            now = now.addingTimeInterval(3600)
            switch state.claim(now: now) {
            case .create: last = await c.create(wo)
            case .lookup: last = await c.lookup(reference: wo.reference, createdSince: queued)
            case .none: return last
            }
            state.record(last, now: now, policy: policy, jitter: 0)
            if state.phase == .delivered { return .created(cmmsId: state.cmmsId ?? "") }
            if state.phase == .deadLetter || state.phase == .needsReview { return last }
        }
        return last
    }

    /// Delivers each reference through injected faults and checks the emulator holds exactly
    /// one work order per reference (and that faults were actually injected).
    static func deliverEachExactlyOnce(_ c: any CMMSConnector, _ emu: RunningEmulator, _ refs: [String],
                                       draft: (String) -> WorkOrderDraft = { Fixtures.draft(reference: $0) },
                                       requireInjectedFaults: Bool = true,
                                       sourceLocation: SourceLocation = #_sourceLocation) async {
        for ref in refs {
            switch await Dispatch.deliver(c, draft(ref)) {
            case .created, .lookupFound: break
            case let other: Issue.record("\(ref) not delivered: \(other)", sourceLocation: sourceLocation)
            }
        }
        let all = await emu.state.all()
        for ref in refs { #expect(all.filter { $0.reference == ref }.count == 1, "exactly one work order for \(ref)", sourceLocation: sourceLocation) }
        if requireInjectedFaults { #expect(await emu.state.injectedFailures > 0, sourceLocation: sourceLocation) }
    }
}

extension EmulatorOptions {
    /// Only these credentials are accepted.
    static func accepting(_ credentials: Set<String>) -> EmulatorOptions {
        var o = EmulatorOptions()
        o.credentials = credentials
        return o
    }
}

extension HTTPClient {
    /// The process-wide client; it needs no shutdown.
    static func test() -> HTTPClient { .shared }
}

/// A `cmms:` entry as the tests write it: the system block as flat strings (`"site": "BEDFORD"`,
/// `"status_map.FALSEPOS": "false_positive"`, `"users": "T-114=ortiz"`), read through the registry
/// the way the config loader reads a plant's block, typed options and errors included. A
/// `<name>_env` key's value is the secret itself: tests have no environment.
@dynamicMemberLookup
struct TestCMMS: Sendable {
    var settings: CMMSSettings
    var options: [String: String] = [:]

    init(name: String, kind: String, baseURL: String) { settings = CMMSSettings(name: name, kind: kind, baseURL: baseURL) }

    subscript<T>(dynamicMember path: WritableKeyPath<CMMSSettings, T>) -> T {
        get { settings[keyPath: path] }
        set { settings[keyPath: path] = newValue }
    }

    /// The settings with the block read; a bad option throws the loader's `ConfigError`.
    func read() throws(ConfigError) -> CMMSSettings {
        guard let kind = CMMSRegistry.kind(settings.kind) else {
            throw ConfigError(file: "test", line: nil, key: "kind", message: "no kind \(settings.kind)")
        }
        var s = settings
        try s.read(block: block(path: kind.block), as: kind)
        return s
    }

    func block(path: String) -> ConfigTree {
        func tree(_ value: String, _ path: String) -> ConfigTree { ConfigTree(.scalar(value), file: "test", line: 1, path: path) }
        var top: [String: ConfigTree] = [:]
        for (key, value) in options.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                var entries = top[parts[0]]?.entries ?? []
                entries.append(.init(key: parts[1], keyLine: 1, value: tree(value, "\(path).\(key)")))
                top[parts[0]] = ConfigTree(.mapping(entries), file: "test", line: 1, path: "\(path).\(parts[0])")
            } else if key.hasSuffix("_env") {
                top[key] = ConfigTree(.scalar("TEST_SECRET"), file: "test", line: 1, path: "\(path).\(key)", environmentValue: value)
            } else {
                top[key] = tree(value, "\(path).\(key)")
            }
        }
        let entries = top.sorted { $0.key < $1.key }.map { ConfigTree.Entry(key: $0.key, keyLine: 1, value: $0.value) }
        return ConfigTree(.mapping(entries), file: "test", line: 1, path: path)
    }
}

extension CMMSRegistry {
    static func makeConnector(_ entry: TestCMMS, http: HTTPClient) throws -> any CMMSConnector {
        try makeConnector(entry.read(), http: http)
    }
}
