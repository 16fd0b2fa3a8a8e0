import Foundation
import Hummingbird
import NIOCore

/// HTML for people: the page shells, escaping, and the headers every page carries.
enum HTML {
    /// Text for an element or a quoted attribute value: the five characters that could end
    /// either are replaced, so no value can open a tag or leave its attribute.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Scripts and styles only from this gateway, never inline; images also from `blob:` (the
    /// script fetches them with the key and shows them as blobs); requests only to this gateway.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func response(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                           .contentSecurityPolicy: contentSecurityPolicy, .xContentTypeOptions: "nosniff",
                                           .init("Referrer-Policy")!: "no-referrer"],
                 body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page: the header with the key form, and `main` that the script fills from `fragment`
    /// (a path answered with HTML for the caller's key).
    static func shell(title: String, page: String, fragment: String, intro: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><link rel="stylesheet" href="/ui/board.css"><script src="/ui/board.js" defer></script></head>
        <body data-page="\(escape(page))" data-fragment="\(escape(fragment))">
        <header><a class="home" href="/">Millwright</a><h1>\(escape(title))</h1>
        <span id="live" class="live" role="status">not connected</span>
        <form id="keyform" class="keyform"><label>API key <input id="key" type="password" autocomplete="off" placeholder="viewer, operator or admin key"></label>
        <button type="submit">Use key</button><button type="button" id="forget">Forget</button></form></header>
        <main id="main" aria-live="polite"><p class="muted">\(escape(intro))</p></main>
        </body></html>
        """
    }
}
