import Foundation
import MillwrightCore

/// What the connectors share when reading a closed work order back: choosing the completion
/// photo among the files listed on it, and downloading it under `ReadbackLimits.photoBytes`.
enum ReadbackSupport {
    /// A file listed on the work order.
    struct Listed {
        var name: String
        var contentType: String?
        var url: String
        var createdAt: Date?
    }

    /// The newest image that is not Millwright's own evidence, and a reason for each file passed
    /// over that looked meant as a photo (a type we do not take). At most `maxAttachments` are looked at.
    static func choosePhoto(_ files: [Listed], reference: String) -> (photo: Listed?, refused: [String]) {
        var refused: [String] = []
        let looked = files.prefix(ReadbackLimits.maxAttachments)
        if files.count > looked.count { refused.append("only the first \(ReadbackLimits.maxAttachments) of \(files.count) files on the work order were looked at") }
        var candidates: [(Int, Listed)] = []
        for (i, f) in looked.enumerated() where !f.name.hasPrefix(reference + "-evidence") {
            if CMMSReadback.isCandidatePhoto(filename: f.name, contentType: f.contentType, reference: reference) {
                candidates.append((i, f))
            } else {
                refused.append("\(CMMSReadback.cut(f.name, 120)): \(CMMSReadback.cut(f.contentType ?? "no type", 60)) is not a JPEG or PNG photo")
            }
        }
        // Newest by its time, else the last listed: the technician's photo comes after our evidence.
        let newest = candidates.max { a, b in
            switch (a.1.createdAt, b.1.createdAt) {
            case (let x?, let y?) where x != y: x < y
            default: a.0 < b.0
            }
        }
        return (newest?.1, refused)
    }

    /// Downloads `file` into `readback.photo`, or says in `refused` why not. `auth` goes only to
    /// the CMMS's own host: a link elsewhere (a presigned storage URL) is fetched without it.
    static func fetchPhoto(_ file: Listed, base: String, auth: [(String, String)], http: HTTPTransport, into readback: inout CMMSReadback) async {
        let url: String
        if file.url.hasPrefix("https://") || file.url.hasPrefix("http://") { url = file.url } else {
            guard let origin = origin(of: base) else { readback.refused.append("\(file.name): no address to download it from"); return }
            url = origin + (file.url.hasPrefix("/") ? "" : "/") + file.url
        }
        let headers = origin(of: url) == origin(of: base) ? auth : []
        do {
            guard let r = try await http.download(url, headers: headers, maxBytes: ReadbackLimits.photoBytes) else {
                readback.refused.append("\(CMMSReadback.cut(file.name, 120)): larger than \(ReadbackLimits.photoBytes) bytes, not downloaded")
                return
            }
            guard r.status == 200 else {
                readback.refused.append("\(CMMSReadback.cut(file.name, 120)): download answered HTTP \(r.status)")
                return
            }
            readback.photo = ReadbackPhoto(filename: file.name, contentType: r.headers.first(name: "Content-Type") ?? file.contentType, data: r.body)
        } catch {
            readback.refused.append("\(CMMSReadback.cut(file.name, 120)): download failed: \(CMMSReadback.cut(HTTPTransport.describe(error), 150))")
        }
    }

    /// `scheme://host[:port]` of a URL.
    static func origin(of url: String) -> String? {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return nil }
        return "\(scheme)://\(host)" + (c.port.map { ":\($0)" } ?? "")
    }
}
