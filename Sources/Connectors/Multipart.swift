import Foundation

/// A `multipart/form-data` body holding one file, the way UpKeep and Limble take images.
public enum Multipart {
    /// The body and the `Content-Type` header value (with its boundary) to send it with.
    public static func file(field: String, filename: String, contentType: String, data: Data) -> (body: Data, contentType: String) {
        let boundary = "millwright-\(UUID().uuidString)"
        // A quote would end the header parameter early; file names never need one.
        let name = filename.replacingOccurrences(of: "\"", with: "")
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(name)\"\r\nContent-Type: \(contentType)\r\n\r\n".utf8)
        body.append(data)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}
