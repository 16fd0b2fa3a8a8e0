import Foundation
import MillwrightCore

extension ConfigLoader {
    /// `capture: { max_skew, buffer_bytes, cameras: [ { camera, rtsp: { url, user, password_env }, every, transport, detector } ] }`.
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
        let fields = try n.requireMapping()
        if let onvif = fields.first(where: { $0.0 == "onvif" }) {
            throw onvif.1.error("ONVIF cameras are not supported yet; give the camera's stream as rtsp: { url, user, password_env }")
        }
        _ = try n.requireMapping(allowed: ["camera", "rtsp", "every", "transport", "detector"])
        let id = try req(n, "camera").string()
        guard !id.isEmpty, id.utf8.count <= 200 else { throw n.error("camera must be 1 to 200 characters") }
        let rtsp = try req(n, "rtsp")
        _ = try rtsp.requireMapping(allowed: ["url", "user", "password_env"])
        let urlNode = try req(rtsp, "url")
        let url = try urlNode.string()
        guard let parts = URLComponents(string: url), parts.scheme?.lowercased() == "rtsp", let host = parts.host, !host.isEmpty else {
            throw urlNode.error("'\(url.prefix(200))' is not an rtsp:// URL")
        }
        guard parts.user == nil, parts.password == nil else {
            throw urlNode.error("has credentials in it; give them as user and password_env (the password never goes in the file)")
        }
        if let p = parts.port, !(1...65535).contains(p) { throw urlNode.error("has an invalid port") }
        var cam = CaptureCamera(camera: id, url: url)
        if let u = rtsp.child("user") { cam.user = try u.string() }
        if rtsp.child("password_env") != nil {
            guard cam.user != nil else { throw rtsp.error("password_env needs a user") }
            cam.password = try rtsp.secret(fromEnvKey: "password_env")
        }
        if let e = n.child("every") { cam.every = try e.duration(in: .milliseconds(100)...Duration.seconds(3600)) }
        if let t = n.child("transport") {
            let s = try t.string()
            guard let tr = CaptureCamera.Transport(rawValue: s) else { throw t.error("'\(s)' is not a transport; use tcp or udp") }
            cam.transport = tr
        }
        if let d = n.child("detector") { cam.detector = try detector(d) }
        return cam
    }

    /// `detector: { kind: reference, learn_frames, sigma, min_area_px, defect_class, masks: [[x, y, …]] }`.
    static func detector(_ n: YAMLNode) throws(ConfigError) -> DetectorSettings {
        _ = try n.requireMapping(allowed: ["kind", "learn_frames", "sigma", "min_area_px", "defect_class", "masks"])
        let kindNode = try req(n, "kind")
        let kind = try kindNode.string()
        guard kind == "reference" else { throw kindNode.error("'\(kind.prefix(100))' is not a detector kind; use reference") }
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

    /// Each capture URL must name an address the evidence fetch policy allows: the same rule
    /// that keeps a frame URL from reaching into the plant network. An address literal is
    /// checked as it is; a host name must be listed in `evidence.fetch_allow` by name, because
    /// the policy cannot know now what the name will resolve to.
    static func checkCaptureURLs(_ n: YAMLNode?, capture: CaptureSettings, policy: FetchPolicy) throws(ConfigError) {
        let nodes = try n?.child("cameras")?.requireSequence() ?? []
        for (cam, node) in zip(capture.cameras, nodes) {
            let urlNode = node.child("rtsp")?.child("url") ?? node
            guard let parts = URLComponents(string: cam.url), let rawHost = parts.host else { continue }
            let host = rawHost.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            let port = parts.port ?? 554
            if let ip = IPAddress(host) {
                if case .refused(let why) = policy.decide(host: host, port: port, address: ip) {
                    throw urlNode.error("the camera's address is not allowed: \(why)")
                }
            } else if !policy.entries.contains(where: { if case .host(let h, let p) = $0 { h == host.lowercased() && (p == nil || p == port) } else { false } }) {
                throw urlNode.error("host \(host) must be listed in evidence.fetch_allow (by name) for the gateway to capture from it")
            }
        }
    }
}
