import ArgumentParser
import CStdio

@main
struct Millwright: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "millwright",
        abstract: "Turns AI-vision defect detections into dispatched maintenance work orders.",
        discussion: """
        Detections come in over REST (and MQTT); cameras are mapped to CMMS assets;
        repeated detections are confirmed and grouped into one incident per asset,
        defect and zone; each incident gets a severity, a priority and a complete
        work order, delivered exactly once to the plant's CMMS through a durable
        outbox.

        Start with `millwright demo`, which runs the whole loop on built-in
        defaults. Exit codes: 0 ok, 1 a check failed, 2 usage or configuration
        error.
        """,
        subcommands: [Demo.self, Serve.self, Emulate.self, Assets.self, CheckConnection.self, Replay.self, Audit.self, Users.self, Migrate.self, Bench.self]
    )

    static func main() async {
        // Under systemd, docker or `| tee` stdout is a pipe, which C buffers in 4 KiB blocks:
        // a running gateway would say nothing until the buffer fills. One line, one write.
        millwright_line_buffer_stdout()
        await Self.main(nil)
    }
}
