import ErrorNormalization
import GatewayCore
import GatewayTestSupport
import NIOCore
import Testing

/// One before/after case per family, the mapping dialect, `codes:` overrides, exposure and retry hints.
@Suite struct FamilyTests {
    typealias FE = ProblemDocument.FieldError

    @Test func problemJSONWithASPNetErrors() {
        let body =
            #"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"One or more validation errors occurred.","status":400,"errors":{"Email":["The Email field is required."]}}"#
        let doc = Fixture.normalize(400, body, headers: Fixture.headers([("Content-Type", "application/problem+json")]))
        #expect(doc.upstream?.dialect == "problem_json")
        #expect(doc.code == .validationFailed)
        #expect(doc.detail == "One or more validation errors occurred.")
        #expect(doc.errors == [FE(detail: "The Email field is required.", pointer: "#/Email", field: "Email")])
    }

    @Test func googleBadRequest() {
        let body =
            #"{"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"items[0].sku","description":"SKU is required"}]}]}}"#
        let doc = Fixture.normalize(400, body)
        #expect(doc.upstream == .init(name: "vendor", status: 400, code: "INVALID_ARGUMENT", dialect: "google"))
        #expect(doc.code == .validationFailed)
        #expect(doc.errors == [FE(detail: "SKU is required", pointer: "#/items/0/sku", field: "items[0].sku")])
    }

    @Test(arguments: [
        ("RESOURCE_EXHAUSTED", 429, ErrorCode.rateLimited), ("ALREADY_EXISTS", 409, .conflict),
        ("FAILED_PRECONDITION", 400, .preconditionFailed), ("UNAUTHENTICATED", 401, .unauthenticated),
        ("PERMISSION_DENIED", 403, .permissionDenied), ("UNAVAILABLE", 503, .upstreamUnavailable),
        ("DEADLINE_EXCEEDED", 504, .upstreamTimeout), ("NOT_FOUND", 404, .notFound),
    ])
    func googleStatuses(status: String, http: Int, expected: ErrorCode) {
        let body = #"{"error":{"code":\#(http),"message":"m","status":"\#(status)"}}"#
        #expect(Fixture.normalize(http, body).code == expected)
    }

    @Test func stripeLikeParam() {
        let body =
            #"{"error":{"type":"invalid_request_error","code":"parameter_missing","message":"Missing required param: amount.","param":"amount"}}"#
        let doc = Fixture.normalize(400, body)
        #expect(doc.upstream?.dialect == "nested_error")
        #expect(doc.upstream?.code == "parameter_missing")
        #expect(doc.detail == "Missing required param: amount.")
        #expect(
            doc.errors == [
                FE(
                    detail: "Missing required param: amount.", pointer: "#/amount", field: "amount",
                    code: "parameter_missing")
            ])
    }

    @Test func jsonAPI() {
        let body =
            #"{"errors":[{"status":"422","code":"blank","title":"Invalid Attribute","detail":"First name must contain at least two characters.","source":{"pointer":"/data/attributes/firstName"}},{"status":"422","detail":"Bad filter","source":{"parameter":"filter"}}]}"#
        let doc = Fixture.normalize(422, body)
        #expect(doc.upstream == .init(name: "vendor", status: 422, code: "blank", dialect: "jsonapi"))
        #expect(
            doc.errors == [
                FE(
                    detail: "First name must contain at least two characters.", pointer: "#/data/attributes/firstName",
                    field: "firstName", code: "blank"),
                FE(detail: "Bad filter", field: "filter"),
            ])
        #expect(doc.detail == ErrorCode.validationFailed.neutralDetail)
    }

    @Test func graphQLErrorStatus() {
        let body = #"{"errors":[{"message":"Too many requests","extensions":{"code":"THROTTLED"}}],"data":null}"#
        let doc = Fixture.normalize(429, body)
        #expect(doc.upstream == .init(name: "vendor", status: 429, code: "THROTTLED", dialect: "graphql"))
        #expect(doc.code == .rateLimited)
        #expect(doc.detail == "Too many requests")
    }

    @Test func fastAPIDetailArray() {
        let body =
            #"{"detail":[{"loc":["body","items",0,"sku"],"msg":"field required","type":"value_error.missing"},{"loc":["query","limit"],"msg":"not an int","type":"type_error"}]}"#
        let doc = Fixture.normalize(422, body)
        #expect(doc.upstream?.dialect == "generic")
        #expect(
            doc.errors == [
                FE(
                    detail: "field required", pointer: "#/items/0/sku", field: "items.0.sku",
                    code: "value_error.missing"),
                FE(detail: "not an int", field: "limit", code: "type_error"),
            ])
    }

    @Test func flatShapes() {
        #expect(Fixture.normalize(404, #"{"message":"No such thing"}"#).detail == "No such thing")
        #expect(Fixture.normalize(400, #"{"error":"bad input here"}"#).detail == "bad input here")
        #expect(Fixture.normalize(400, #"{"detail":"Not allowed"}"#).detail == "Not allowed")
        let spring = Fixture.normalize(
            404,
            #"{"timestamp":"2024-01-01T00:00:00.000+00:00","status":404,"error":"Not Found","message":"User 7 missing","path":"/users/7"}"#
        )
        #expect(spring.detail == "User 7 missing")
        let codeMessage = Fixture.normalize(403, #"{"code":"ACCOUNT_LOCKED","message":"Locked"}"#)
        #expect(codeMessage.upstream?.code == "ACCOUNT_LOCKED")
        #expect(codeMessage.code == .permissionDenied)
        let bare = Fixture.normalize(422, #"{"email":["is invalid"],"name":["can't be blank"]}"#)
        #expect(
            bare.errors == [
                FE(detail: "is invalid", pointer: "#/email", field: "email"),
                FE(detail: "can't be blank", pointer: "#/name", field: "name"),
            ])
        let strings = Fixture.normalize(400, #"{"errors":["first problem","second problem"]}"#)
        #expect(strings.detail == "first problem")
    }

    @Test func s3XML() {
        let body =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        let doc = Fixture.normalize(404, body, headers: Fixture.headers([("Content-Type", "application/xml")]))
        #expect(doc.upstream == .init(name: "vendor", status: 404, code: "NoSuchKey", dialect: "xml"))
        #expect(doc.code == .notFound)
        #expect(doc.detail == "The specified key does not exist.")
        let slowDown = Fixture.normalize(503, "<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>")
        #expect(slowDown.code == .rateLimited)
    }

    @Test func soapFaults() {
        let soap11 =
            #"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>Invalid &amp; unknown account</faultstring></soap:Fault></soap:Body></soap:Envelope>"#
        let doc = Fixture.normalize(500, soap11, context: Fixture.context(expose: .all))
        #expect(doc.upstream?.code == "Client")
        #expect(doc.code == .badRequest)
        #expect(doc.detail == "Invalid & unknown account")
        let soap12 =
            #"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Receiver</env:Value><env:Subcode><env:Value>m:Overloaded</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Try later</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>"#
        let doc12 = Fixture.normalize(500, soap12, context: Fixture.context(expose: .all))
        #expect(doc12.upstream?.code == "Overloaded")
        #expect(doc12.code == .upstreamError)
        #expect(doc12.detail == "Try later")
    }

    @Test func htmlPageNeverEchoesMarkup() {
        let html =
            "<!DOCTYPE html><html><head><script>alert('x')</script><title>503 Service &lt;b&gt;Temporarily&lt;/b&gt; Unavailable</title></head><body><h1>Oops</h1></body></html>"
        let doc = Fixture.normalize(
            503, html, headers: Fixture.headers([("Content-Type", "text/html")]),
            context: Fixture.context(expose: .all))
        #expect(doc.upstream?.dialect == "text")
        #expect(doc.code == .upstreamUnavailable)
        #expect(!doc.detail.contains("<") && !doc.detail.contains(">") && !doc.detail.contains("alert"))
        #expect(doc.detail == "503 Service b Temporarily /b Unavailable")
    }

    @Test func plainTextFirstLine() {
        let doc = Fixture.normalize(
            400, "\n  Bad thing happened\u{07}  \nstack trace here",
            headers: Fixture.headers([("Content-Type", "text/plain")]))
        #expect(doc.detail == "Bad thing happened")
        #expect(doc.upstream?.dialect == "text")
    }

    @Test func mappingDialect() {
        let mapping = DialectMapping(
            code: "/fault/code", message: "/fault/message", errors: "/fault/violations",
            errorField: "/name", errorMessage: "/reason", errorCode: "/type")
        let body =
            #"{"fault":{"code":"MONTHLY_LIMIT","message":"Limit reached","violations":[{"name":"a/b","reason":"too big","type":"max"}]}}"#
        let doc = Fixture.normalize(
            429, body,
            context: Fixture.context(
                dialect: .mapping(mapping), codes: ["MONTHLY_LIMIT": .quotaExceeded]))
        #expect(doc.upstream == .init(name: "vendor", status: 429, code: "MONTHLY_LIMIT", dialect: "mapping"))
        #expect(doc.code == .quotaExceeded)
        #expect(doc.retryable == false)
        #expect(doc.detail == "Limit reached")
        #expect(doc.errors == [FE(detail: "too big", pointer: "#/a~1b", field: "a/b", code: "max")])
        let objectErrors = DialectMapping(message: "/m", errors: "/e")
        let second = Fixture.normalize(
            422, #"{"m":"Invalid","e":{"email":["bad","worse"]}}"#,
            context: Fixture.context(dialect: .mapping(objectErrors)))
        #expect(second.errors.map(\.detail) == ["bad", "worse"])
        #expect(second.errors.map(\.field) == ["email", "email"])
    }

    @Test func codesOverridePreset() {
        let body = #"{"error": {"code": "forbidden", "message": "nope"}}"#
        let doc = Fixture.normalize(
            403, body,
            context: Fixture.context(
                dialect: .builtin("certifier"), codes: ["forbidden": .notFound]))
        #expect(doc.code == .notFound)
        #expect(doc.status == 403)
    }

    @Test func exposureModes() {
        let body = #"{"success":false,"message":"Invalid","errors":{"email":["secret detail"]}}"#
        let hidden = Fixture.normalize(422, body, context: Fixture.context(expose: .none))
        #expect(hidden.detail == ErrorCode.validationFailed.neutralDetail)
        #expect(hidden.errors.first?.detail == ErrorCode.validationFailed.neutralDetail)
        #expect(hidden.errors.first?.field == "email")
        let client = Fixture.normalize(422, body, context: Fixture.context(expose: .clientErrors))
        #expect(client.errors.first?.detail == "secret detail")
        let server = Fixture.normalize(502, body, context: Fixture.context(expose: .clientErrors))
        #expect(server.detail == ErrorCode.upstreamUnavailable.neutralDetail)
        #expect(server.errors.first?.detail == ErrorCode.upstreamUnavailable.neutralDetail)
        let all = Fixture.normalize(502, body, context: Fixture.context(expose: .all))
        #expect(all.detail == "Invalid")
    }

    @Test func detailSanitisedAndCapped() {
        let long = String(repeating: "é", count: 1000)
        let doc = Fixture.normalize(400, #"{"message":"a\u0000b\u001b\nc \#(long)"}"#)
        #expect(doc.detail.hasPrefix("ab c é"))
        #expect(doc.detail.utf8.count <= 1024)
        #expect(doc.detail.utf8.count >= 1020)
    }

    @Test func retryAfterForms() {
        let json = #"{"message":"slow down"}"#
        func wait(_ pairs: [(String, String)], status: Int = 429) -> Int? {
            Fixture.normalize(status, json, headers: Fixture.headers(pairs)).retryAfter
        }
        #expect(wait([("Retry-After", "120")]) == 120)
        #expect(wait([("Retry-After", HTTPDate.format(unixSeconds: Fixture.now + 90))]) == 90)
        #expect(wait([("X-RateLimit-Reset", String(Fixture.now + 45))]) == 45)
        #expect(wait([("X-RateLimit-Reset", "30")]) == 30)
        #expect(wait([("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "30")], status: 403) == 30)
        #expect(wait([("RateLimit", "\"default\";r=0;t=17")]) == 17)
        #expect(wait([("X-Quota-Remaining", "0"), ("X-Quota-Reset", String(Fixture.now + 3600))]) == 3600)
        #expect(wait([]) == nil)
    }

    @Test func gzipBody() throws {
        // gzip of {"message":"zipped"} (python3 gzip.compress(..., mtime=0)).
        let gz: [UInt8] = [
            31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 171, 86, 202, 77, 45, 46, 78, 76, 79, 85, 178, 82, 170,
            202, 44, 40, 72, 77, 81, 170, 5, 0, 160, 65, 26, 22, 20, 0, 0, 0,
        ]
        let headers = Fixture.headers([("Content-Type", "application/json"), ("Content-Encoding", "gzip")])
        let doc = Fixture.normalize(400, bytes: gz, headers: headers)
        #expect(doc.detail == "zipped")
        let unknown = Fixture.normalize(400, bytes: gz, headers: Fixture.headers([("Content-Encoding", "br")]))
        #expect(unknown.upstream?.dialect == nil)
        #expect(unknown.detail == ErrorCode.badRequest.neutralDetail)
        // Inflating stops at the body limit: the prefix is incomplete JSON and is not read.
        let tiny = Fixture.normalize(400, bytes: gz, headers: headers, context: Fixture.context(bodyLimit: 8))
        #expect(tiny.upstream?.dialect == nil)
    }

    @Test func unknownCharsetAndLatin1() {
        let latin1: [UInt8] = Array(#"{"message":"caf"#.utf8) + [0xE9] + Array(#""}"#.utf8)
        let doc = Fixture.normalize(
            400, bytes: latin1,
            headers: Fixture.headers([
                ("Content-Type", "application/json; charset=ISO-8859-1")
            ]))
        #expect(doc.detail == "café")
        let other = Fixture.normalize(
            400, bytes: latin1,
            headers: Fixture.headers([
                ("Content-Type", "application/json; charset=shift_jis")
            ]))
        #expect(other.upstream?.dialect == nil)
    }

    @Test func truncatedAndGarbage() {
        let truncated = Fixture.normalize(422, #"{"success": false, "message": "The given"#, complete: false)
        #expect(truncated.code == .validationFailed)
        #expect(truncated.upstream == .init(name: "vendor", status: 422, code: nil, dialect: nil))
        var generator = SplitMix64(seed: 7)
        let garbage = (0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let doc = Fixture.normalize(502, bytes: garbage)
        #expect(doc.code == .upstreamUnavailable)
        #expect(doc.upstream?.dialect == nil)
        #expect(doc.detail == ErrorCode.upstreamUnavailable.neutralDetail)
    }

    @Test func jsonReaderEdges() {
        #expect(JSONReader.parse(Array(#"{"a":"\ud83d\ude00\u00e9\n"}"#.utf8)) == .object([("a", .string("😀é\n"))]))
        #expect(JSONReader.parse(Array(#""\ud83d x""#.utf8)) == .string("\u{FFFD} x"))
        #expect(
            JSONReader.parse(Array(#"[1, -0.5e+3, 12345678901234567890]"#.utf8))
                == .array([.number("1"), .number("-0.5e+3"), .number("12345678901234567890")]))
        #expect(JSONReader.parse(Array("[01]".utf8)) == nil)
        #expect(JSONReader.parse(Array("{\"a\":1,}".utf8)) == nil)
        #expect(JSONReader.parse([UInt8](repeating: UInt8(ascii: "["), count: 100_000)) == nil)
        #expect(JSONReader.parse(Array("[[[[1]]]]".utf8), maximumDepth: 3) == nil)
        #expect(JSONReader.parse([0x22, 0xFF, 0x22]) == .string("\u{FFFD}"))
    }

    @Test func normalizeSuccessCases() {
        let context = Fixture.context()
        func success(_ body: String) -> ProblemDocument? {
            ErrorNormalizer().normalizeSuccess(
                status: 200, headers: Fixture.headers(), body: ByteBuffer(string: body), context: context)
        }
        let channel = success(#"{"ok":false,"error":"channel_not_found"}"#)
        #expect(channel?.status == 404)
        #expect(channel?.code == .notFound)
        #expect(channel?.upstream == .init(name: "vendor", status: 200, code: "channel_not_found", dialect: "slack"))
        #expect(success(#"{"ok":false,"error":"invalid_auth"}"#)?.status == 401)
        #expect(success(#"{"ok":false,"error":"ratelimited"}"#)?.status == 429)
        let throttled = success(#"{"errors":[{"message":"slow","extensions":{"code":"THROTTLED"}}]}"#)
        #expect(throttled?.status == 429)
        #expect(throttled?.code == .rateLimited)
        #expect(success(#"{"errors":[{"message":"no"}],"data":null}"#)?.status == 400)
        #expect(success(#"{"ok":true,"channel":"C1"}"#) == nil)
        #expect(success(#"{"data":{"x":1},"errors":[{"message":"partial"}]}"#) == nil)
        #expect(success(#"{"items":[]}"#) == nil)
        #expect(success("not json") == nil)
    }

    @Test func catalogListsEveryName() {
        let names = Set(ErrorNormalizer.catalog.map(\.name))
        for name in [
            "problem_json", "nested_error", "laravel", "nestjs", "field_map", "oauth2", "jsonapi", "graphql",
            "google", "xml", "text", "dokstamp", "certifier", "docyard", "dokai", "stemp",
        ] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(ErrorNormalizer.catalog.allSatisfy { !$0.summary.isEmpty && !$0.summary.contains("\n") })
        #expect(names.count == ErrorNormalizer.catalog.count)
    }
}
