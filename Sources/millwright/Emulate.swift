import ArgumentParser
import Emulators
import Foundation
import Hummingbird
import Logging
import MillwrightCore
import ServiceLifecycle

struct Emulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a CMMS emulator to test against before go-live.",
        discussion: """
        KIND and what each emulator covers:
        \(EmulatorRegistry.all.map { "  \($0.kind): \($0.covers)"
        }.joined(separator: "\n"))

          onvif: an ONVIF camera's Media service (GetProfiles, GetStreamUri, GetSnapshotUri; WS-Security PasswordDigest, NotAuthorized faults) at /onvif/media_service, for a capture camera's onvif: key; --stream-uri, --snapshot, --onvif-user and the password in $ONVIF_PASSWORD

        Every CMMS emulator lists what it received at GET /_emulator/work-orders (common
        JSON shape) and counts requests at GET /_emulator/stats.

        --fail-mode before|after|mixed decides whether an injected failure comes before
        the change or after it was applied; --preload N adds unrelated work orders over
        the last 30 days; --tenant FILE (or --tenant-from-register assets.csv) makes
        unknown assets, users, categories and priorities fail with the system's own
        error (format: docs/cmms/README.md, example Tests/Fixtures/tenants/example.yaml).

        Change a work order's status like a technician would:
          curl -X PATCH -H 'Authorization: Bearer x' -d '{"status":"completed"}' http://127.0.0.1:9000/api/work-orders/1001
        """)

    @Argument(help: "Which CMMS to emulate.")
    var kind: String

    @Option(name: .long, help: "Port to listen on (0 picks a free one and prints it).")
    var port: Int = 9000

    @Option(name: .long, help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Fraction of API requests that fail (0…1); --fail-mode says whether the change was applied first.")
    var failRate: Double = 0

    @Option(name: .long, help: "before: nothing applied, 503. after: writes applied, then 500, 503 or a dropped connection in turn. mixed: half the failed writes applied then 500/503, the rest before.")
    var failMode: String = "mixed"

    @Option(name: .long, help: "Create this many unrelated work orders over the last 30 days before serving.")
    var preload: Int = 0

    @Option(name: .long, help: "YAML tenant file (assets, functional_locations, categories, priorities, users, statuses; docs/cmms/README.md).")
    var tenant: String?

    @Option(name: .long, help: "Build the tenant's assets and functional locations from an asset register CSV (asset_id, functional_location, …).")
    var tenantFromRegister: String?

    @Option(name: .long, help: "maximo: seconds a transactionid is remembered (IBM's OSLCTXN cron task purges after 5 minutes).")
    var transactionTtl: Double = 300

    @Option(name: .long, help: "maximo: comma-separated attributes of the object structure (default: the emulator's list, glaccount included).")
    var attributes: String?

    @Option(name: .long, help: "Delay added to every API request, in milliseconds.")
    var latencyMs: Int = 0

    @Option(name: .long, help: "Answer 503 to every API request for this many seconds after start.")
    var downFor: Double = 0

    @Option(name: .long, help: "File with the accepted credentials, one per line (default: accept any well-formed ones).")
    var credentials: String?

    @Option(name: .long, help: "Seconds after which work orders report in_progress (and completed after twice that).")
    var autoProgress: Double?

    @Option(name: .long, help: "onvif: the RTSP URI GetStreamUri hands out (without it, a camera with snapshots only).")
    var streamUri: String?

    @Option(name: .long, help: "onvif: a JPEG file served at the snapshot URI (behind HTTP Digest).")
    var snapshot: String?

    @Option(name: .long, help: "onvif: the user the camera accepts; its password is $ONVIF_PASSWORD.")
    var onvifUser: String = "admin"

    func validate() throws {
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        guard latencyMs >= 0, downFor >= 0 else { throw ValidationError("--latency-ms and --down-for must not be negative") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
        guard FailMode(rawValue: failMode) != nil else { throw ValidationError("--fail-mode must be before, after or mixed") }
        guard preload >= 0, transactionTtl >= 0 else { throw ValidationError("--preload and --transaction-ttl must not be negative") }
        guard tenant == nil || tenantFromRegister == nil else { throw ValidationError("give --tenant or --tenant-from-register, not both") }
    }

    func run() async throws {
        if kind == "onvif" { return try await runONVIF() }
        guard let entry = EmulatorRegistry.entry(kind) else {
            Runtime.printError("emulate: '\(kind)' is not available in this build; available: \(EmulatorRegistry.all.map(\.kind).joined(separator: ", "))")
            throw ExitCode(2)
        }
        _ = Runtime.bootstrap(level: .notice)
        var options = EmulatorOptions()
        options.failRate = failRate
        options.latencyMs = latencyMs
        options.downFor = downFor
        options.autoProgress = autoProgress
        options.failMode = FailMode(rawValue: failMode) ?? .mixed
        options.preload = preload
        options.transactionTTL = transactionTtl
        options.attributes = attributes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty } }
        do {
            if let tenant { options.tenant = try TenantData.load(path: tenant) }
            if let tenantFromRegister {
                let text = try String(contentsOfFile: tenantFromRegister, encoding: .utf8)
                options.tenant = TenantData.from(register: try AssetRegister.parse(csv: text, file: tenantFromRegister))
            }
        } catch let p as FieldProblem {
            Runtime.printError("emulate: \(p.field.map { "\($0): " } ?? "")\(p.problem)")
            throw ExitCode(2)
        } catch {
            Runtime.printError("emulate: cannot read the tenant file: \(error.localizedDescription)")
            throw ExitCode(2)
        }
        if let credentials {
            do { options.credentials = try EmulatorCredentials.load(path: credentials) } catch {
                Runtime.printError("emulate: cannot read --credentials \(credentials): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        }
        let state = EmulatorState(options: options)
        let logger = Logger(label: "millwright.emulator")
        let host = self.host
        let app = Application(router: entry.router(state),
                              configuration: .init(address: .hostname(host, port: port), serverName: "millwright-emulator-\(kind)"),
                              onServerRunning: { announce("\(kind) emulator", $0, host: host) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The ONVIF camera emulator: not a CMMS, so not in `EmulatorRegistry`.
    func runONVIF() async throws {
        guard let password = ProcessInfo.processInfo.environment["ONVIF_PASSWORD"], !password.isEmpty else {
            Runtime.printError("emulate onvif: set ONVIF_PASSWORD to the password the camera accepts")
            throw ExitCode(2)
        }
        var jpeg: Data?
        if let snapshot {
            do { jpeg = try Data(contentsOf: URL(fileURLWithPath: snapshot)) } catch {
                Runtime.printError("emulate onvif: cannot read --snapshot \(snapshot): \(error.localizedDescription)")
                throw ExitCode(2)
            }
        }
        guard streamUri != nil || jpeg != nil else {
            Runtime.printError("emulate onvif: give --stream-uri, --snapshot or both")
            throw ExitCode(2)
        }
        _ = Runtime.bootstrap(level: .notice)
        let camera = ONVIFEmulator.Camera(ONVIFEmulator.Options(user: onvifUser, password: password, streamURI: streamUri, snapshot: jpeg))
        let logger = Logger(label: "millwright.emulator")
        let host = self.host
        let app = Application(router: ONVIFEmulator.router(camera: camera),
                              configuration: .init(address: .hostname(host, port: port), serverName: "millwright-emulator-onvif"),
                              onServerRunning: { announce("onvif emulator", $0, host: host) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
