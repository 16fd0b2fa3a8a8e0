import AsyncHTTPClient
import Foundation
import MillwrightTesting
import Testing

/// `GET /v1/evidence/{id}?w=`: a scaled copy of the stored image, end to end.
@Suite struct EvidenceThumbnailTests {
    /// Width and height from a JPEG's SOF marker.
    static func jpegSize(_ d: Data) -> (width: Int, height: Int)? {
        let b = [UInt8](d)
        var i = 2
        while i + 9 < b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1], length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (Int(b[i + 7]) << 8 | Int(b[i + 8]), Int(b[i + 5]) << 8 | Int(b[i + 6]))
            }
            i += 2 + length
        }
        return nil
    }

    @Test(.timeLimit(.minutes(3))) func aScaledCopyWithItsOwnETagAndBoundedWidths() async throws {
        let emu = try Plant.emulator()
        let plant = try Plant(cmmsURL: try await emu.listening())
        let server = try plant.serve()
        let api = API(base: try await server.listening())
        defer { _ = emu.terminate(); _ = server.terminate() }

        var d = detection("thumb-1", camera: "CAM-12", defect: "corrosion")
        d["bbox"] = ["x": 290, "y": 190, "width": 60, "height": 20]
        d["image"] = ["width": 640, "height": 360, "data_base64": try EvidenceFlowTests.pillowJPEG().base64EncodedString()]
        let posted = try await api.post("/v1/detections", json: d, key: "ingest-key")
        let incident = try #require((posted.object["results"] as? [[String: Any]])?.first?["incident_id"] as? String)
        var sha = ""
        try await API.eventually("evidence rendered") {
            sha = try await api.get("/v1/incidents/\(incident)").object["evidence_sha256"] as? String ?? ""
            return !sha.isEmpty
        }
        let full = try #require(Self.jpegSize(try await api.get("/v1/evidence/\(sha)", key: "viewer-key").body))
        #expect(full.width > 320)

        let thumb = try await api.get("/v1/evidence/\(sha)?w=320", key: "viewer-key")
        #expect(thumb.status == 200)
        #expect(thumb.contentType == "image/jpeg")
        let size = try #require(Self.jpegSize(thumb.body))
        #expect(size.width == 320)
        #expect(abs(size.height - (full.height * 320 + full.width / 2) / full.width) <= 1)
        let etag = try #require(thumb.headers.first { $0.0.lowercased() == "etag" }?.1)
        #expect(etag == "\"\(sha)-w320\"")
        #expect(thumb.headers.contains { $0.0.lowercased() == "cache-control" && $0.1.contains("immutable") })

        var req = HTTPClientRequest(url: api.base + "/v1/evidence/\(sha)?w=320")
        req.headers.add(name: "Authorization", value: "Bearer viewer-key")
        req.headers.add(name: "If-None-Match", value: etag)
        #expect(try await API.http.execute(req, timeout: .seconds(30)).status == .notModified)

        // Never enlarged: asked wider than the image, the image's own width.
        let wide = try await api.get("/v1/evidence/\(incident)?w=1920", key: "viewer-key")
        #expect(Self.jpegSize(wide.body)?.width == full.width)

        for bad in ["10", "1921", "abc", "320.5", "-1", "99999999999999999999"] {
            let r = try await api.get("/v1/evidence/\(sha)?w=\(bad)", key: "viewer-key")
            #expect(r.status == 400, "w=\(bad)")
            #expect(r.contentType == "application/problem+json")
        }
        #expect(try await api.get("/v1/evidence/\(sha)?w=320", key: "ingest-key").status == 403)
    }
}
