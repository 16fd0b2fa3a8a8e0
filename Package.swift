// swift-tools-version:6.0
import PackageDescription

// `MILLWRIGHT_FUZZ=1 swift build --product FuzzMQTTDecoder` builds the libFuzzer targets, with
// coverage instrumentation on the modules they exercise (scripts/fuzz.sh).
let fuzzing = Context.environment["MILLWRIGHT_FUZZ"] == "1"
let instrumented: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"])] : []

let package = Package(
    name: "Millwright",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "millwright", targets: ["millwright"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        // OPC UA's secured policies (#14): the server certificate and client certificates.
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    ],
    targets: [
        // Pure domain logic: validation, confirmation, incidents, severity, priority,
        // work-order content, outbox and incident state machines, audit hashing. No I/O.
        .target(name: "MillwrightCore", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: instrumented),
        // Vision-format adapters (DeepStream, Frigate, Ultralytics, Roboflow, LandingLens, COCO)
        // mapping onto the native Detection. Pure, no I/O.
        .target(name: "Ingest", dependencies: ["MillwrightCore"], swiftSettings: instrumented),
        // MQTT 5 / 3.1.1 client on SwiftNIO: codec, session state machine, client.
        .target(name: "MQTT", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: instrumented),
        // Sparkplug B 3.0 edge node, sans-I/O: payloads (generated from Eclipse Tahu's proto), the
        // bdSeq/seq state machine, births, deaths, report by exception and commands (#17).
        .target(name: "Sparkplug", dependencies: [
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["Proto"]),
        // OPC UA (Parts 4 and 6) (#14): codec, UA-TCP framing, secure channel, sessions and services as
        // sans-I/O values, the address space from the vendored NodeSet2 files (a resource bundle), and
        // the UA-TCP listener on SwiftNIO. RSA, AES-CBC and X.509 for the secured policies and the PKI.
        .target(name: "OPCUA", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
            .product(name: "SwiftASN1", package: "swift-asn1"),
        ], exclude: ["Spec/StatusCode.csv", "Spec/SOURCES.md"],
           resources: [.copy("Spec/Opc.Ua.NodeSet2.xml"), .copy("Spec/Opc.Ua.MachineVision.NodeSet2.xml")], swiftSettings: instrumented),
        // Notifications: our own SMTP client (STARTTLS, AUTH) on SwiftNIO, signed webhooks, MQTT;
        // per-recipient throttle, digests, pick lists.
        .target(name: "Notify", dependencies: [
            "MillwrightCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // libjpeg-turbo (Debian: libturbojpeg0-dev) and libpng.
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        // One C call: line-buffered stdout.
        .systemLibrary(name: "CStdio"),
        // One C call: whether the kernel's clock is synchronised (adjtimex).
        .systemLibrary(name: "CTimex"),
        // Evidence images: decode, annotate, encode, content-addressed storage.
        .target(name: "Evidence", dependencies: [
            "MillwrightCore", "CTurboJPEG", "CPNG",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: instrumented),
        // The built-in reference detector for fixed camera views (#16): learn, compare, clean,
        // label. Pure, no I/O.
        .target(name: "Detector", swiftSettings: instrumented),
        // The reference detector workers shipped with the binary (#16): workers/onnx_detect.py as a
        // SwiftPM resource, run by `detector: { kind: onnx }`.
        .target(name: "Workers", path: "workers", resources: [.copy("onnx_detect.py")]),
        // Frames from RTSP cameras (#16): a supervised Debian ffmpeg per camera decoding into JPEG
        // frames, split by a bounded JPEG splitter, kept in a per-camera ring bounded in bytes.
        // ONVIF cameras: the Media service's SOAP calls with WS-Security digest, over AsyncHTTPClient.
        .target(name: "Capture", dependencies: [
            "MillwrightCore", "Evidence", "Detector", "Workers",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], swiftSettings: instrumented),
        // YAML configuration with file/line/key errors.
        .target(name: "Config", dependencies: [
            "MillwrightCore",
            .product(name: "Yams", package: "Yams"),
        ]),
        // Durable state: detections, incidents, outbox, audit chain (SQLite via GRDB).
        .target(name: "Store", dependencies: [
            "MillwrightCore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // The same store logic on PostgreSQL (PostgresNIO): pooled connections, `?` → `$N`, migrations.
        .target(name: "StorePostgres", dependencies: [
            "Store", "MillwrightCore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // CMMS connectors: one file per system.
        .target(name: "Connectors", dependencies: [
            "MillwrightCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // CMMS emulators for tests and pre-go-live trials. They do not depend on Connectors: an
        // emulator written from the vendor's documentation can catch a connector's mistake, one
        // that shared the connector's code could not.
        .target(name: "Emulators", dependencies: [
            "MillwrightCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // The running gateway as lifecycle services (ingest, outbox dispatcher, status sync,
        // notifications, evidence retention, planning refresh, MQTT) around shared state.
        .target(name: "Gateway", dependencies: [
            "MillwrightCore", "Store", "Connectors", "Ingest", "Evidence", "MQTT", "Notify", "Sparkplug", "OPCUA", "CTimex", "Capture",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Named users (21 CFR Part 11): bcrypt passwords, TOTP, login sessions, electronic
        // signatures checked at the moment of signing, lockout after failed attempts.
        .target(name: "Accounts", dependencies: [
            "MillwrightCore", "Store",
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // HTTP API (Hummingbird 2).
        .target(name: "Server", dependencies: [
            "MillwrightCore", "Gateway", "Store", "Evidence", "Connectors", "Ingest", "Accounts", "Capture",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // A free loopback port and the local PostgreSQL programs, for bench and the tests.
        .target(name: "LocalServers"),
        .executableTarget(name: "millwright", dependencies: [
            "MillwrightCore", "Config", "Store", "StorePostgres", "Connectors", "Emulators", "Gateway", "Server", "Ingest", "Evidence", "MQTT", "OPCUA", "CStdio",
            "Detector", "Capture",
            "Accounts",
            "LocalServers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // What the test targets share: process launchers (the built binary, mosquitto, openssl, PostgreSQL),
        // in-process emulators, a test PKI, and the one locator of the spec files.
        .target(name: "MillwrightTesting", dependencies: [
            "Emulators", "MillwrightCore", "LocalServers",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/MillwrightTesting"),
        .testTarget(name: "MillwrightCoreTests", dependencies: ["MillwrightCore"]),
        .testTarget(name: "AccountsTests", dependencies: [
            "Accounts", "Store", "MillwrightCore",
            .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
        ]),
        // The YAML loader and each system's typed options, read through the CMMS registry.
        .testTarget(name: "ConfigTests", dependencies: ["Config", "MillwrightCore", "Connectors"]),
        .testTarget(name: "IngestTests", dependencies: ["MillwrightCore", "Ingest"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MQTTTests", dependencies: [
            "MQTT", "MillwrightTesting",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "SparkplugTests", dependencies: ["Sparkplug"]),
        .testTarget(name: "OPCUATests", dependencies: [
            "OPCUA",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "X509", package: "swift-certificates"),
        ]),
        .testTarget(name: "EvidenceTests", dependencies: ["MillwrightCore", "Evidence"], resources: [.copy("Golden")]),
        .testTarget(name: "CaptureTests", dependencies: [
            "Capture", "Evidence", "MillwrightCore", "Emulators", "MillwrightTesting",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .testTarget(name: "DetectorTests", dependencies: ["Detector"]),
        // Each connector against its emulator, and both against the official specs in Tests/Fixtures/specs.
        .testTarget(name: "ConnectorTests", dependencies: [
            "MillwrightCore", "Connectors", "Emulators", "MillwrightTesting",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "PlanningTests", dependencies: ["MillwrightCore"]),
        .testTarget(name: "NotifyTests", dependencies: [
            "Notify", "MillwrightCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The store's contract runs on every backend: SQLite, and PostgreSQL from Debian's package.
        .testTarget(name: "StoreTests", dependencies: [
            "MillwrightCore", "Store", "StorePostgres", "MillwrightTesting",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The PostgreSQL backend against a real server the harness starts (Debian's postgresql).
        .testTarget(name: "StorePostgresTests", dependencies: [
            "StorePostgres", "Store", "MillwrightCore", "MillwrightTesting",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "GatewayTests", dependencies: [
            "Gateway", "Store", "MillwrightCore", "Notify", "OPCUA",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "Gateway", "Store", "MillwrightCore", "Notify", "Evidence",
            // The read-back flow against in-process emulators (ReadbackFlowTests).
            "Connectors", "Emulators", "MillwrightTesting", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Runs the built `millwright` binary as a separate process.
        .testTarget(name: "BlackBoxTests", dependencies: [
            "millwright", "MillwrightTesting", "Emulators",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], exclude: ["Peers"]),
    ]
)

if fuzzing {
    for (name, dependencies) in [("FuzzMQTTDecoder", ["MQTT"]), ("FuzzOPCUADecoder", ["OPCUA"]), ("FuzzOPCUAServices", ["OPCUA"]), ("FuzzAdapters", ["Ingest"]), ("FuzzPipeline", ["Ingest", "MillwrightCore", "Evidence"]),
                                 ("FuzzJSONParser", ["MillwrightCore"]), ("FuzzJPEGSplitter", ["Capture"]), ("FuzzWorkerProtocol", ["Capture"])] {
        package.targets.append(.executableTarget(
            name: name, dependencies: dependencies.map { .target(name: $0) }, path: "Fuzz/\(name.dropFirst(4))",
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer", "-parse-as-library"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer"])]))
        package.products.append(.executable(name: name, targets: [name]))
    }
}
