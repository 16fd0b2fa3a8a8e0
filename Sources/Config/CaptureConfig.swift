import Foundation
import MillwrightCore

extension ConfigLoader {
    /// `capture: { max_skew, buffer_bytes, cameras: [ { camera, rtsp | onvif: { url, user, password_env }, every, transport, detector } ] }`.
    /// The URLs are checked against `evidence.fetch_allow` by `checkCaptureURLs` once the whole
    /// file is read (the evidence block may come later in the file).
    static func capture(_ n: YAMLNode) throws(ConfigError) -> CaptureSettings {
        var c = CaptureSettings()
        for (k, v) in try n.requireMapping(allowed: ["max_skew", "buffer_bytes", "cameras"]) {
            switch k {
            case "max_skew": c.maxSkew = try v.duration(in: .milliseconds(100)...Duration.seconds(60))
            case "buffer_bytes": c.bufferBytes = try v.int(in: (1 << 20)...(1 << 30))
            default:
                for e in try v.requireSequence() {
                    let cam = try captureCamera(e)
                    if c.cameras.contains(where: { $0.camera == cam.camera }) { throw e.error("camera \(cam.camera) is captured twice") }
                    c.cameras.append(cam)
                }
            }
        }
        return c
    }

    static func captureCamera(_ n: YAMLNode) throws(ConfigError) -> CaptureCamera {
        _ = try n.requireMapping(allowed: ["camera", "rtsp", "onvif", "every", "transport", "detector"])
        let id = try req(n, "camera").string()
        guard !id.isEmpty, id.utf8.count <= 200 else { throw n.error("camera must be 1 to 200 characters") }
        let source: CaptureCamera.Source
        switch (n.child("rtsp"), n.child("onvif")) {
        case (_?, _?): throw n.error("give rtsp or onvif, not both")
        case (nil, nil): throw n.error("needs rtsp: { url, user, password_env } or onvif: { url, user, password_env }")
        case (_?, nil): source = .rtsp
        case (nil, _?): source = .onvif
        }
        let block = try req(n, source.rawValue)
        _ = try block.requireMapping(allowed: ["url", "user", "password_env"])
        let urlNode = try req(block, "url")
        let url = try urlNode.string()
        let schemes: Set<String> = source == .rtsp ? ["rtsp"] : ["http", "https"]
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), schemes.contains(scheme), let host = parts.host, !host.isEmpty else {
            throw urlNode.error(source == .rtsp ? "'\(url.prefix(200))' is not an rtsp:// URL"
                                                : "'\(url.prefix(200))' is not an http:// or https:// URL (the camera's ONVIF Media service)")
        }
        guard parts.user == nil, parts.password == nil else {
            throw urlNode.error("has credentials in it; give them as user and password_env (the password never goes in the file)")
        }
        if let p = parts.port, !(1...65535).contains(p) { throw urlNode.error("has an invalid port") }
        var cam = CaptureCamera(camera: id, url: url)
        cam.source = source
        if let u = block.child("user") { cam.user = try u.string() }
        if block.child("password_env") != nil {
            guard cam.user != nil else { throw block.error("password_env needs a user") }
            cam.password = try block.secret(fromEnvKey: "password_env")
        }
        if let e = n.child("every") { cam.every = try e.duration(in: .milliseconds(100)...Duration.seconds(3600)) }
        if let t = n.child("transport") {
            let s = try t.string()
            guard let tr = CaptureCamera.Transport(rawValue: s) else { throw t.error("'\(s)' is not a transport; use tcp or udp") }
            cam.transport = tr
        }
        if let d = n.child("detector") {
            _ = try d.requireMapping()
            switch try req(d, "kind").string() {
            case "command", "onnx": cam.worker = try detectorWorker(d)
            default: cam.detector = try detector(d)
            }
        }
        return cam
    }

    /// `detector: { kind: reference, learn_frames, sigma, min_area_px, defect_class, masks: [[x, y, …]] }`.
    static func detector(_ n: YAMLNode) throws(ConfigError) -> DetectorSettings {
        let kindNode = try req(n, "kind")
        let kind = try kindNode.string()
        guard kind == "reference" else { throw kindNode.error("'\(kind.prefix(100))' is not a detector kind; use reference, onnx or command") }
        _ = try n.requireMapping(allowed: ["kind", "learn_frames", "sigma", "min_area_px", "defect_class", "masks"])
        var d = DetectorSettings()
        if let v = n.child("learn_frames") { d.learnFrames = try v.int(in: DetectorSettings.learnFramesRange) }
        if let v = n.child("sigma") { d.sigma = try v.double(in: DetectorSettings.sigmaRange) }
        if let v = n.child("min_area_px") { d.minAreaPx = try v.int(in: DetectorSettings.minAreaRange) }
        if let v = n.child("defect_class") {
            let c = try v.string()
            guard !c.isEmpty, c.utf8.count <= 100 else { throw v.error("must be 1 to 100 characters") }
            d.defectClass = c
        }
        if let v = n.child("masks") {
            let polygons = try v.requireSequence()
            guard polygons.count <= DetectorSettings.maxMasks else { throw v.error("has \(polygons.count) masks; at most \(DetectorSettings.maxMasks)") }
            for p in polygons {
                let numbers = try p.requireSequence()
                guard numbers.count >= 6, numbers.count % 2 == 0, numbers.count <= 2 * DetectorSettings.maxMaskPoints else {
                    throw p.error("must be a polygon [x1, y1, x2, y2, x3, y3, …]: 3 to \(DetectorSettings.maxMaskPoints) points, an even count of numbers")
                }
                let values = try numbers.map { x throws(ConfigError) in try x.double(in: 0...100_000) }
                d.masks.append(stride(from: 0, to: values.count, by: 2).map { DetectorSettings.Point(x: values[$0], y: values[$0 + 1]) })
            }
        }
        return d
    }

    /// `detector: { kind: command, run, … }` or `{ kind: onnx, model, input, python, … }`, both with
    /// `labels, threshold, timeout, start_timeout, env, model_name, model_version`.
    static func detectorWorker(_ n: YAMLNode) throws(ConfigError) -> DetectorWorkerSettings {
        let common = ["kind", "labels", "threshold", "timeout", "start_timeout", "env", "model_name", "model_version"]
        var w: DetectorWorkerSettings
        if try req(n, "kind").string() == "command" {
            _ = try n.requireMapping(allowed: common + ["run"])
            let runNode = try req(n, "run")
            let run = try runNode.string()
            guard run.utf8.count <= DetectorWorkerSettings.maxRunBytes else { throw runNode.error("is over \(DetectorWorkerSettings.maxRunBytes) bytes") }
            switch DetectorWorkerSettings.words(run) {
            case .success(let argv): w = DetectorWorkerSettings(run: run, program: .command(argv))
            case .failure(let why): throw runNode.error("\(why); give the worker's program and its arguments, e.g. \"python3 detect.py\"")
            }
        } else {
            _ = try n.requireMapping(allowed: common + ["model", "input", "python"])
            let model = try path(try req(n, "model"))
            let input = try n.child("input")?.int(in: DetectorWorkerSettings.inputRange) ?? 640
            let python = try n.child("python").map { v throws(ConfigError) in try path(v) } ?? "python3"
            w = DetectorWorkerSettings(run: "onnx_detect.py --model \(model) --input \(input)", program: .onnx(model: model, input: input, python: python))
        }
        if let v = n.child("labels") {
            let items = try v.requireSequence()
            guard items.count <= DetectorWorkerSettings.maxLabels else { throw v.error("has \(items.count) labels; at most \(DetectorWorkerSettings.maxLabels)") }
            for item in items {
                let label = try item.string()
                guard !label.isEmpty, label.utf8.count <= DetectorWorkerSettings.maxLabelBytes else {
                    throw item.error("must be 1 to \(DetectorWorkerSettings.maxLabelBytes) characters")
                }
                w.labels.append(label)
            }
        }
        if let v = n.child("threshold") { w.threshold = try v.double(in: DetectorWorkerSettings.thresholdRange) }
        if let v = n.child("timeout") { w.timeout = try v.duration(in: DetectorWorkerSettings.timeoutRange) }
        if let v = n.child("start_timeout") { w.startTimeout = try v.duration(in: DetectorWorkerSettings.startTimeoutRange) }
        if let v = n.child("env") {
            let pairs = try v.requireMapping()
            guard pairs.count <= DetectorWorkerSettings.maxEnv else { throw v.error("has \(pairs.count) variables; at most \(DetectorWorkerSettings.maxEnv)") }
            for (name, value) in pairs {
                guard name.utf8.count <= 100, let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic),
                      name.unicodeScalars.allSatisfy({ $0 == "_" || ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) }) else {
                    throw value.error("'\(name.prefix(100))' is not an environment variable name (letters, digits and _, not starting with a digit)")
                }
                let text = try value.string()
                guard text.utf8.count <= DetectorWorkerSettings.maxEnvValueBytes, !text.utf8.contains(0) else {
                    throw value.error("must be at most \(DetectorWorkerSettings.maxEnvValueBytes) bytes, without NUL")
                }
                w.env[name] = text
            }
        }
        for (key, path) in [("model_name", \DetectorWorkerSettings.modelName), ("model_version", \DetectorWorkerSettings.modelVersion)] {
            guard let v = n.child(key) else { continue }
            let text = try v.string()
            guard !text.isEmpty, text.utf8.count <= 100 else { throw v.error("must be 1 to 100 characters") }
            w[keyPath: path] = text
        }
        return w
    }

    /// A file name or path: 1 to 4096 bytes, no control characters.
    private static func path(_ v: YAMLNode) throws(ConfigError) -> String {
        let p = try v.string()
        guard !p.isEmpty, p.utf8.count <= DetectorWorkerSettings.maxPathBytes, !p.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw v.error("must be a path of 1 to \(DetectorWorkerSettings.maxPathBytes) bytes without control characters")
        }
        return p
    }

    /// Each capture URL must name an address the evidence fetch policy allows: the same rule
    /// that keeps a frame URL from reaching into the plant network (`FetchPolicy.captureRefusal`).
    /// An ONVIF camera's stream and snapshot URIs are held to it again when the camera names them.
    static func checkCaptureURLs(_ n: YAMLNode?, capture: CaptureSettings, policy: FetchPolicy) throws(ConfigError) {
        let nodes = try n?.child("cameras")?.requireSequence() ?? []
        for (cam, node) in zip(capture.cameras, nodes) {
            if let why = policy.captureRefusal(url: cam.url) { throw (node.child(cam.source.rawValue)?.child("url") ?? node).error(why) }
        }
    }
}
