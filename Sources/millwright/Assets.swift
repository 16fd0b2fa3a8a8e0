import ArgumentParser
import Foundation
import MillwrightCore
import Store

struct Assets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Camera → asset mapping tools.",
        subcommands: [Validate.self])

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the camera→asset mapping against the CMMS asset register.",
            discussion: """
            Reports assets missing from the register, ids listed twice, criticality that
            disagrees with the register, cameras naming an unknown CMMS and — when the
            store exists — cameras that sent detections but have no mapping. Each line
            names the file and line. Exit 1 when anything would produce an orphaned work
            order.

            Example:
              millwright assets validate --config millwright.yaml --register export.csv
            """)

        @Option(name: .long, help: "The configuration file.")
        var config: String

        @Option(name: .long, help: "Asset register CSV (default: assets.register from the configuration).")
        var register: String?

        func run() async throws {
            // Checks the mapping only: the CMMS secrets need not be exported.
            var settings = try Runtime.loadSettings(config, requireSecrets: false)
            if let register { settings.assets.registerPath = register }
            let reg = try Runtime.loadRegister(settings)
            var seen: [String] = []
            if case .sqlite(let path) = settings.storage, FileManager.default.fileExists(atPath: path),
               let store = try? Store(path: path) {
                seen = (try? await store.camerasSeen()) ?? []
            }
            let issues = AssetValidation.check(cameras: settings.assets.cameras, register: reg,
                                               registerFile: settings.assets.registerPath ?? "(no register)", configFile: config,
                                               knownCMMS: settings.cmms.map(\.name), seenCameras: seen)
            let cams = settings.assets.cameras.count
            if reg == nil { print("note: no assets.register configured; asset ids are trusted as written") }
            for i in issues { print("\(i.kind.rawValue): \(i.message)") }
            if issues.isEmpty {
                print("ok: \(cams) camera(s) mapped" + (reg.map { ", all assets found among \($0.records.count) in the register" } ?? ""))
            } else {
                print("\(issues.count) problem(s) in \(cams) camera mapping(s)")
                throw ExitCode(1)
            }
        }
    }
}
