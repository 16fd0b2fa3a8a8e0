@testable import Capture
import Testing

/// HTTP Digest for cameras' snapshot URIs, against the RFCs' own examples.
@Suite struct HTTPDigestTests {
    /// RFC 2617 §3.5 (MD5, qop=auth): the response is 6629fae49393a05397450978507c4ef1.
    @Test func rfc2617Example() throws {
        let c = try #require(HTTPDigestChallenge.parse(#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#))
        #expect(c == HTTPDigestChallenge(realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque: "5ccc069c403ebaf9f0171e9517f40e41", algorithm: "MD5", qopAuth: true))
        let a = c.authorization(user: "Mufasa", password: "Circle Of Life", method: "GET", uri: "/dir/index.html", cnonce: "0a4f113b")
        #expect(a == #"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", algorithm=MD5, response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41""#)
    }

    /// RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5.
    @Test(arguments: [("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"), ("MD5", "8ca523f5e9506fed4657c9700eebdbec")])
    func rfc7616Example(_ algorithm: String, _ response: String) throws {
        let c = try #require(HTTPDigestChallenge.parse(#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=\#(algorithm), nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#))
        let a = c.authorization(user: "Mufasa", password: "Circle of Life", method: "GET", uri: "/dir/index.html", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
        #expect(a.contains(#"response="\#(response)""#), "\(a)")
    }

    @Test func challengesThisClientCannotAnswerAreNotTaken() {
        #expect(HTTPDigestChallenge.parse(#"Basic realm="x""#) == nil)
        #expect(HTTPDigestChallenge.parse(#"Digest realm="x", nonce="n", qop="auth-int""#) == nil)
        #expect(HTTPDigestChallenge.parse(#"Digest realm="x", nonce="n", algorithm=SHA-512-256"#) == nil)
        #expect(HTTPDigestChallenge.parse(#"Digest nonce="n""#) == nil)
        #expect(HTTPDigestChallenge.parse("Digest realm=\"" + String(repeating: "x", count: 5000) + "\", nonce=\"n\"") == nil)
        // Quoted commas and escaped quotes stay in their value.
        #expect(HTTPDigestChallenge.parse(#"Digest realm="a, \"b\"", nonce=n1"#)?.realm == #"a, "b""#)
    }
}
