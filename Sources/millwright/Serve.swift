import ArgumentParser
import AsyncHTTPClient
import Foundation
import Gateway
import Logging
import MillwrightCore
import OPCUA
import Server
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway: REST API, outbox dispatcher and CMMS status sync.",
        discussion: """
        Reads one YAML file (see docs/configuration.md). Secrets come from
        environment variables named by *_env keys; any value may be written as
        ${VAR} or ${VAR:-default}. A bad file stops start-up with the file, line and
        key at fault (exit 2). SIGTERM or Ctrl-C stops taking detections, lets
        in-flight requests commit, and exits 0.

        Example:
          MW_KEY_LINE2=secret millwright serve --config millwright.yaml
        """)

    @Option(name: .long, help: "The configuration file.")
    var config: String

    @Option(name: .long, help: "Override server.port (0 picks a free port and prints it).")
    var port: Int?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    func run() async throws {
        try await Runtime.withHTTPClient { try await serve(http: $0) }
    }

    func serve(http: HTTPClient) async throws {
        let registry = Runtime.bootstrap(level: Logger.Level(rawValue: logLevel) ?? .info)
        var settings = try Runtime.loadSettings(config)
        if let port { settings.server.port = port }
        let register = try Runtime.loadRegister(settings)
        try Runtime.checkTopicTemplate(settings, register: register, file: config)
        let store = try await Runtime.openStore(settings)
        let logger = Logger(label: "millwright")
        // What this node runs with is an audit record whenever it differs from the last start.
        if let text = try? String(contentsOfFile: config, encoding: .utf8) {
            try await store.recordConfiguration(ConfigRevision(text: text), file: URL(fileURLWithPath: config).lastPathComponent)
        }
        let checkpoints = try await AuditCheckpointService.start(settings, store: store, logger: logger)
        let connectors = try Runtime.makeConnectors(settings, http: http)
        let evidence = try Runtime.openEvidence(settings)
        let planning = try await Runtime.loadPlanning(settings, store: store)
        let gateway = Gateway(settings: settings, store: store, register: register, connectors: connectors, logger: logger, evidence: evidence,
                              planning: planning)
        let api = APIServer(gateway: gateway, registry: registry)
        let host = settings.server.host, scheme = settings.server.tls == nil ? "http" : "https"
        let app: any Service
        do {
            app = try APIListener.application(router: api.router(), settings: settings.server, logger: logger,
                                              onServerRunning: { announce("api", $0, host: host, scheme: scheme) })
        } catch {
            Runtime.printError("configuration error: \(error)")
            throw ExitCode(2)
        }
        if settings.apiKeys.isEmpty { logger.warning("no auth.api_keys configured: every request except /healthz will be refused") }
        logger.info("starting", metadata: ["cmms": "\(connectors.map(\.name).joined(separator: ","))", "shadow": "\(settings.shadow)"])
        var mqtt: MQTTBridge?
        if let mqttSettings = settings.mqtt {
            do { mqtt = try MQTTBridge(gateway: gateway, settings: mqttSettings) } catch {
                Runtime.printError("configuration error: mqtt.broker: \(error)")
                throw ExitCode(2)
            }
        }
        var sparkplug: SparkplugService?
        if let mqttSettings = settings.mqtt, let sp = mqttSettings.sparkplug {
            do { sparkplug = try SparkplugService(gateway: gateway, settings: mqttSettings, sparkplug: sp) } catch {
                Runtime.printError("configuration error: mqtt.sparkplug: \(error)")
                throw ExitCode(2)
            }
        }
        var opcua: OPCUABridge?
        if let o = settings.opcua {
            do {
                opcua = try OPCUABridge(gateway: gateway, settings: o, nodeSets: try NodeSetFiles.locate(),
                                        onListening: { announce("opcua", $0, host: o.host, scheme: "opc.tcp") })
            } catch {
                Runtime.printError("opcua: \(error)")
                throw ExitCode(2)
            }
        }
        // One group; on SIGTERM or SIGINT it stops intake (MQTT, then the API), drains commits in
        // flight, stops dispatch, closes the broker session and writes a last checkpoint
        // (`ServicePlan` has the order and why).
        // The OPC UA server stops after dispatch, like the broker session: both tell the floor.
        let plan = gateway.servicePlan(api: app, mqtt: mqtt, sparkplug: sparkplug, last: (opcua.map { [$0] } ?? []) + (checkpoints.map { [$0] } ?? []))
        let group = plan.group(stopOnSignals: true, logger: logger)
        try await group.run()
        logger.info("stopped cleanly")
    }
}
