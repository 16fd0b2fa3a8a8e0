import Foundation
import Hummingbird
import MillwrightCore
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

    /// A page: the header with the login (a named user) or an API key, and `main` that the
    /// script fills from `fragment` (a path answered with HTML for the caller). With Part 11
    /// on, regulated buttons open the signing dialog: the signer re-enters the password.
    static func shell(title: String, page: String, fragment: String, intro: String, part11: Bool) -> String {
        let meanings = SignatureMeaning.allCases.map { "<option value=\"\($0.rawValue)\">\($0.rawValue)</option>" }.joined()
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><link rel="stylesheet" href="/ui/board.css"><script src="/ui/board.js" defer></script></head>
        <body data-page="\(escape(page))" data-fragment="\(escape(fragment))" data-part11="\(part11)">
        <header><a class="home" href="/">Millwright</a><h1>\(escape(title))</h1>
        <nav class="pages" aria-label="Pages"><a href="/">Board</a> <a href="/analytics">Analytics</a> <a href="/shadow">Shadow run</a> <a href="/audit">Audit</a></nav>
        <span id="live" class="live" role="status">not connected</span>
        <form id="loginform" class="keyform"><label>User <input id="login-user" autocomplete="username" size="10"></label>
        <label>Password <input id="login-password" type="password" autocomplete="current-password" size="12"></label>
        <label>Code <input id="login-totp" inputmode="numeric" autocomplete="one-time-code" size="6" placeholder="if asked"></label>
        <button type="submit">Log in</button></form>
        <form id="keyform" class="keyform"><label>or API key <input id="key" type="password" autocomplete="off" placeholder="viewer, operator or admin key"></label>
        <button type="submit">Use key</button></form>
        <span id="whoami" class="whoami" hidden></span><button type="button" id="forget" hidden>Log out</button>
        <span id="login-error" class="err" role="alert"></span></header>
        <main id="main" aria-live="polite"><p class="muted">\(escape(intro))</p></main>
        <dialog id="signdialog" aria-labelledby="sign-title"><form id="signform">
        <h2 id="sign-title">Electronic signature</h2>
        <p id="sign-what"></p>
        <p class="muted">Signing is the legally binding equivalent of your handwritten signature (21 CFR Part 11).</p>
        <label>User <input id="sign-user" autocomplete="username"></label>
        <label>Password <input id="sign-password" type="password" autocomplete="current-password"></label>
        <label>Meaning <select id="sign-meaning">\(meanings)</select></label>
        <p><button type="submit">Sign</button> <button type="button" id="sign-cancel">Cancel</button></p>
        </form></dialog>
        </body></html>
        """
    }
}
