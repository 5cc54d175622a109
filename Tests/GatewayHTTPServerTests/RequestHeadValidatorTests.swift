import GatewayHTTPServer
import NIOHTTP1
import Testing

@Suite("RFC 9112 head checks")
struct RequestHeadValidatorTests {
    func head(
        _ method: HTTPMethod = .GET, _ uri: String = "/", version: HTTPVersion = .http1_1,
        fields: [(String, String)]
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(fields))
    }

    @Test func acceptsAnOrdinaryRequest() {
        let verdict = RequestHeadValidator.validate(self.head(fields: [("Host", "a")]))
        #expect(verdict.refusal == nil)
        #expect(verdict.originFormTarget == "/")
    }

    @Test func http10WithoutHostIsAccepted() {
        #expect(RequestHeadValidator.validate(self.head(version: .http1_0, fields: [])).refusal == nil)
    }

    @Test func hostRules() {
        #expect(
            RequestHeadValidator.validate(self.head(fields: [])).refusal == .malformedRequest("missing Host header"))
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("host", "a")])).refusal
                == .malformedRequest("more than one Host header"))
    }

    @Test func fieldNamesAreMatchedWhateverTheirCase() {
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("HOST", "a"), ("hOsT", "b")])).refusal
                == .malformedRequest("more than one Host header"))
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("hosT", "a b")])).refusal
                == .malformedRequest("invalid Host header"))
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("TRANSFER-encoding", "gzip")])).refusal
                == .unsupportedTransferEncoding)
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("eXPECT", "x")])).refusal
                == .expectationFailed)
        // Names that only look alike are other fields.
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("Hosts", "b"), ("Expected", "x")])).refusal
                == nil)
        #expect(RequestHeadValidator.validate(self.head(.GET, "/a#b", fields: [("Host", "a")])).refusal != nil)
    }

    @Test func transferEncodingRules() {
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("Transfer-Encoding", "chunked")])).refusal
                == nil)
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("Transfer-Encoding", "chunked, gzip")]))
                .refusal
                == .unsupportedTransferEncoding)
        #expect(
            RequestHeadValidator.validate(
                self.head(fields: [("Host", "a"), ("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")])
            ).refusal
                == .unsupportedTransferEncoding)
    }

    @Test func expectations() {
        let verdict = RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("Expect", "100-Continue")]))
        #expect(verdict.expectsContinue)
        #expect(
            RequestHeadValidator.validate(self.head(fields: [("Host", "a"), ("Expect", "x")])).refusal
                == .expectationFailed)
    }

    @Test func absoluteForm() {
        let verdict = RequestHeadValidator.validate(self.head(.GET, "https://A:8/p?q", fields: [("Host", "a:8")]))
        #expect(verdict.refusal == nil)
        #expect(verdict.originFormTarget == "/p?q")
        #expect(
            RequestHeadValidator.validate(self.head(.GET, "http://a", fields: [("Host", "a")])).originFormTarget == "/")
        #expect(RequestHeadValidator.validate(self.head(.GET, "http://b/", fields: [("Host", "a")])).refusal != nil)
        #expect(RequestHeadValidator.validate(self.head(.GET, "ftp://a/", fields: [("Host", "a")])).refusal != nil)
        #expect(
            RequestHeadValidator.validate(self.head(.OPTIONS, "*", fields: [("Host", "a")])).originFormTarget == "*")
    }

    @Test(arguments: ["a b", "a/b", "a@b", "a:b", "", " ", "a:8080x", "[::1", "[]", "a%4", "a%zz", "é.example", "a\tb"])
    func invalidHostIsRefused(_ host: String) {
        let verdict = RequestHeadValidator.validate(self.head(fields: [("Host", host)]))
        #expect(verdict.refusal == .malformedRequest("invalid Host header"), "Host: \(host)")
    }

    @Test(arguments: [
        "a", "a:8080", "a:", "127.0.0.1:80", "[::1]", "[::1]:443", "[v1.x]", "a-b.c_d~e", "a%41", "!$&'()*+,;=", " a ",
    ])
    func validHostIsAccepted(_ host: String) {
        #expect(RequestHeadValidator.validate(self.head(fields: [("Host", host)])).refusal == nil, "Host: \(host)")
    }

    @Test func headSizeLimits() {
        let long = self.head(.GET, "/" + String(repeating: "a", count: 100), fields: [("Host", "a")])
        #expect(RequestHeadValidator.validate(long, maxHeadBytes: 100).refusal == .uriTooLong)
        let fields = self.head(fields: [("Host", "a"), ("X", String(repeating: "b", count: 100))])
        #expect(RequestHeadValidator.validate(fields, maxHeadBytes: 100).refusal == .headerTooLarge)
        #expect(RequestHeadValidator.validate(fields, maxHeadBytes: 200).refusal == nil)
    }
    /// RFC 9110 section 7.2 / RFC 3986 section 3.2.2: which `Host` values the listener accepts.
    @Test(arguments: [
        ("a", true), ("api.example.com", true), ("127.0.0.1:8080", true), (" example.com:80\t", true),
        ("a:", true), ("[::1]", true), ("[::1]:443", true), ("[v1.fe80::a+en1]", true), ("caf%C3%A9.example", true),
        ("sub-delims!$&'()*+,;=", true), ("x_y~z", true),
        ("", false), (" ", false), (":80", false), ("a:8o", false), ("a b", false), ("a/b", false),
        ("a@b", false), ("[]", false), ("[::1", false), ("[::1]x", false), ("[::1]:", true), ("[a b]", false),
        ("a%2", false), ("a%2:80", false), ("a%zz", false), ("a:80:90", false), ("ex\u{e9}.com", false),
        ("a\u{301}", false), ("a:\u{661}", false),
    ])
    func hostValues(value: String, valid: Bool) {
        let verdict = RequestHeadValidator.validate(self.head(fields: [("Host", value)]))
        #expect((verdict.refusal == nil) == valid, "\(value.debugDescription)")
    }
}
