import ArgumentParser
import Foundation

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load generator and latency measurement; prints one JSON object.",
        discussion: "See README \"Performance\". Runs the gateway in-process against the sandbox emulator on loopback.")

    func run() async throws {
        try await BenchRunner().run()
    }
}
