import GatewayCore
import Testing

@Suite("The canonical envelope")
struct ProblemDocumentTests {
    @Test func rendersEveryMemberInOrderWithEscaping() {
        let document = ProblemDocument(
            code: .validationFailed, detail: "Bad \"input\"\n<script>", instance: "/v/x", requestID: "r1",
            source: .upstream, upstream: .init(name: "v", status: 422, code: nil, dialect: "laravel"),
            errors: [
                .init(detail: "required", pointer: "#/email", field: "email"),
                .init(detail: "taken", code: "unique", params: [.string("a@b"), .number("2")]),
            ],
            retryAfter: 3, suggestions: ["try again"], params: [.null, .bool(true)])
        let json = String(decoding: document.render(typeBase: "https://e/"), as: UTF8.self)
        let expected: [String] = [
            ##"{"type":"https://e/validation_failed","title":"Validation failed","status":422,"##,
            ##""detail":"Bad \"input\"\n\u003cscript\u003e","instance":"/v/x","code":"validation_failed","##,
            ##""retryable":false,"request_id":"r1","source":"upstream","##,
            ##""upstream":{"name":"v","status":422,"code":null,"dialect":"laravel"},"retry_after":3,"##,
            ##""errors":[{"pointer":"#/email","field":"email","detail":"required"},"##,
            ##"{"detail":"taken","code":"unique","params":["a@b",2]}],"##,
            ##""suggestions":["try again"],"params":[null,true]}"##,
        ]
        #expect(json == expected.joined())
    }

    @Test func gatewayMadeEnvelopeHasNoUpstreamMember() {
        let document = ProblemDocument(code: .notFound, instance: "/x", requestID: "r", source: .gateway)
        let json = String(decoding: document.render(typeBase: "t/"), as: UTF8.self)
        #expect(!json.contains("\"upstream\""))
        #expect(document.status == 404)
        #expect(document.detail == ErrorCode.notFound.neutralDetail)
    }

    @Test(arguments: [
        (400, "bad_request"), (401, "unauthenticated"), (402, "payment_required"), (403, "permission_denied"),
        (404, "not_found"), (405, "method_not_allowed"), (408, "request_timeout"), (409, "conflict"), (410, "gone"),
        (412, "precondition_failed"), (413, "payload_too_large"), (415, "unsupported_media_type"),
        (422, "validation_failed"), (429, "rate_limited"), (431, "header_too_large"), (418, "bad_request"),
        (500, "upstream_error"), (502, "upstream_unavailable"), (503, "upstream_unavailable"),
        (504, "upstream_timeout"), (599, "upstream_error"),
    ])
    func statusesMapByTheSpecTable(status: Int, code: String) {
        #expect(ErrorCode.forStatus(status).rawValue == code)
    }

    @Test func everyCodeRoundTripsByName() {
        for code in ErrorCode.all {
            #expect(ErrorCode(rawValue: code.rawValue) == code)
        }
        #expect(ErrorCode(rawValue: "nope") == nil)
        #expect(ErrorCode.quotaExceeded.isRetryable == false)
        #expect(ErrorCode.rateLimited.isRetryable == true)
    }
}
