import ArgumentParser
import Emulators
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

struct Emulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a CMMS emulator to test against before go-live.",
        discussion: """
        KIND and what each emulator covers:
        \(EmulatorRegistry.all.map { "  \($0.kind): \($0.covers)"
        }.joined(separator: "\n"))

        Every emulator lists what it received at GET /_emulator/work-orders (common
        JSON shape) and counts requests at GET /_emulator/stats.

        Change a work order's status like a technician would:
          curl -X PATCH -H 'Authorization: Bearer x' -d '{"status":"completed"}' http://127.0.0.1:9000/api/work-orders/1001
        """)

    @Argument(help: "Which CMMS to emulate.")
    var kind: String

    @Option(name: .long, help: "Port to listen on (0 picks a free one and prints it).")
    var port: Int = 9000

    @Option(name: .long, help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(name: .long, help: "Fraction of API requests that fail (0…1); half of those are applied and then answered 500.")
    var failRate: Double = 0

    @Option(name: .long, help: "Delay added to every API request, in milliseconds.")
    var latencyMs: Int = 0

    @Option(name: .long, help: "Answer 503 to every API request for this many seconds after start.")
    var downFor: Double = 0

    @Option(name: .long, help: "File with the accepted credentials, one per line (default: accept any well-formed ones).")
    var credentials: String?

    @Option(name: .long, help: "Seconds after which work orders report in_progress (and completed after twice that).")
    var autoProgress: Double?

    func validate() throws {
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        guard latencyMs >= 0, downFor >= 0 else { throw ValidationError("--latency-ms and --down-for must not be negative") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0…65535") }
    }

    func run() async throws {
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
}
