import ErrorNormalization
import GatewayCore
import Testing

/// Every error example in the five vendors' pages (`/work/shared/seeds/`), with the exact envelope members.
@Suite struct SeedExampleTests {
    typealias FE = ProblemDocument.FieldError

    @Test func dokstampValidation() {
        let body = """
            {"success": false, "message": "The given data was invalid.", "errors": {
              "email": ["The email field is required.", "The email must be a valid email address."],
              "course_uuid": ["The selected course uuid is invalid."]}}
            """
        let doc = Fixture.normalize(422, body, context: Fixture.context(upstream: "dokstamp"))
        #expect(doc.code == .validationFailed)
        #expect(doc.status == 422)
        #expect(doc.detail == "The given data was invalid.")
        #expect(doc.source == .upstream)
        #expect(doc.retryable == false)
        #expect(doc.upstream == .init(name: "dokstamp", status: 422, code: nil, dialect: "laravel"))
        #expect(
            doc.errors == [
                FE(detail: "The email field is required.", pointer: "#/email", field: "email"),
                FE(detail: "The email must be a valid email address.", pointer: "#/email", field: "email"),
                FE(detail: "The selected course uuid is invalid.", pointer: "#/course_uuid", field: "course_uuid"),
            ])
        let rendered = String(decoding: doc.render(typeBase: "https://errors.gateway.dev/"), as: UTF8.self)
        #expect(rendered.contains(#""upstream":{"name":"dokstamp","status":422,"code":null,"dialect":"laravel"}"#))
    }

    @Test(arguments: [
        (401, #"{"success": false, "message": "Unauthenticated."}"#, ErrorCode.unauthenticated, "Unauthenticated."),
        (404, #"{"success": false, "message": "Resource not found."}"#, .notFound, "Resource not found."),
    ])
    func dokstampSimple(status: Int, body: String, code: ErrorCode, detail: String) {
        let doc = Fixture.normalize(status, body, context: Fixture.context(dialect: .builtin("dokstamp")))
        #expect(doc.code == code)
        #expect(doc.detail == detail)
        #expect(doc.upstream?.dialect == "dokstamp")
        #expect(doc.errors.isEmpty)
    }

    @Test func dokstampServerErrorHidesText() {
        let doc = Fixture.normalize(500, #"{"success": false, "message": "Server Error"}"#)
        #expect(doc.code == .upstreamError)
        #expect(doc.detail == ErrorCode.upstreamError.neutralDetail)
        #expect(doc.retryable == true)
        #expect(doc.upstream?.dialect == "laravel")
        let shown = Fixture.normalize(
            500, #"{"success": false, "message": "Server Error"}"#,
            context: Fixture.context(expose: .all))
        #expect(shown.detail == "Server Error")
    }

    @Test(arguments: [
        ("bad_request", 400, ErrorCode.badRequest), ("missing_version", 400, .badRequest),
        ("invalid_version", 400, .badRequest), ("invalid_json", 400, .badRequest),
        ("validation_error", 400, .validationFailed), ("unauthorized", 401, .unauthenticated),
        ("payment_required", 402, .paymentRequired), ("forbidden", 403, .permissionDenied),
        ("not_found", 404, .notFound), ("conflict", 409, .conflict), ("rate_limited", 429, .rateLimited),
        ("internal_server_error", 500, .upstreamError), ("internal_server_error", 503, .upstreamError),
    ])
    func certifierCodes(vendorCode: String, status: Int, expected: ErrorCode) {
        let body = #"{"error": {"code": "\#(vendorCode)", "message": "An english description of the error"}}"#
        for dialect in [DialectSetting.builtin("certifier"), .auto] {
            let doc = Fixture.normalize(status, body, context: Fixture.context(dialect: dialect, expose: .all))
            #expect(doc.code == expected)
            #expect(doc.status == status)
            #expect(doc.detail == "An english description of the error")
            #expect(doc.upstream?.code == vendorCode)
            #expect(doc.retryable == (status >= 500 || expected == .rateLimited))
        }
        let preset = Fixture.normalize(status, body, context: Fixture.context(dialect: .builtin("certifier")))
        #expect(preset.upstream?.dialect == "certifier")
        #expect(Fixture.normalize(status, body).upstream?.dialect == "nested_error")
    }

    @Test func docyardString() {
        let body =
            #"{"statusCode": 400, "message": "Domain 'example.com' is already registered to another dock", "error": "Bad Request"}"#
        let doc = Fixture.normalize(400, body)
        #expect(doc.code == .badRequest)
        #expect(doc.detail == "Domain 'example.com' is already registered to another dock")
        #expect(doc.upstream == .init(name: "vendor", status: 400, code: nil, dialect: "nestjs"))
        #expect(doc.errors.isEmpty)
    }

    @Test func docyardValidationArray() {
        let body =
            #"{"statusCode": 400, "message": ["name must be a string", "email must be an email", "items.0.sku must be a string"], "error": "Bad Request"}"#
        let doc = Fixture.normalize(400, body, context: Fixture.context(dialect: .builtin("docyard")))
        #expect(doc.code == .validationFailed)
        #expect(doc.status == 400)
        #expect(doc.detail == ErrorCode.validationFailed.neutralDetail)
        #expect(
            doc.errors == [
                FE(detail: "name must be a string", pointer: "#/name", field: "name"),
                FE(detail: "email must be an email", pointer: "#/email", field: "email"),
                FE(detail: "items.0.sku must be a string", pointer: "#/items/0/sku", field: "items.0.sku"),
            ])
    }

    @Test func docyardRetryAfter() {
        let doc = Fixture.normalize(
            429,
            #"{"statusCode": 429, "message": "ThrottlerException: Too Many Requests", "error": "Too Many Requests"}"#,
            headers: Fixture.headers([("Content-Type", "application/json"), ("Retry-After", "7")]))
        #expect(doc.code == .rateLimited)
        #expect(doc.retryAfter == 7)
        #expect(doc.retryable == true)
    }

    @Test func dokaiInvalidFileType() {
        let body = """
            {"error": {"code": "invalid_file_type", "message": "The uploaded file is not a supported image format.",
            "type": "validation_error", "suggestions": ["Upload a JPEG, PNG, or WebP image",
            "Ensure the file is not corrupted", "Check that the Content-Type header matches the file"]}}
            """
        let doc = Fixture.normalize(422, body, context: Fixture.context(dialect: .builtin("dokai")))
        #expect(doc.code == .validationFailed)
        #expect(doc.detail == "The uploaded file is not a supported image format.")
        #expect(doc.upstream == .init(name: "vendor", status: 422, code: "invalid_file_type", dialect: "dokai"))
        #expect(
            doc.suggestions == [
                "Upload a JPEG, PNG, or WebP image", "Ensure the file is not corrupted",
                "Check that the Content-Type header matches the file",
            ])
        // Under auto the `type` category still maps it.
        #expect(Fixture.normalize(422, body).code == .validationFailed)
    }

    @Test(arguments: [
        ("invalid_api_key", 401, ErrorCode.unauthenticated), ("key_expired", 401, .unauthenticated),
        ("unauthorized", 401, .unauthenticated), ("forbidden", 403, .permissionDenied), ("not_found", 404, .notFound),
        ("result_expired", 410, .gone), ("validation_error", 422, .validationFailed),
        ("file_too_large", 422, .validationFailed), ("invalid_document_type", 422, .validationFailed),
        ("invalid_document_brand", 422, .validationFailed), ("webhook_invalid_url", 422, .validationFailed),
        ("webhook_domain_not_allowed", 422, .validationFailed), ("quota_exceeded", 429, .quotaExceeded),
        ("rate_limited", 429, .rateLimited), ("processing_failed", 500, .upstreamError),
        ("ocr_failed", 500, .upstreamError), ("internal_error", 500, .upstreamError),
    ])
    func dokaiCodes(vendorCode: String, status: Int, expected: ErrorCode) {
        let body = #"{"error": {"code": "\#(vendorCode)", "message": "m"}}"#
        let doc = Fixture.normalize(status, body, context: Fixture.context(dialect: .builtin("dokai")))
        #expect(doc.code == expected)
        #expect(doc.upstream?.code == vendorCode)
    }

    @Test func dokaiQuotaUsesQuotaReset() {
        let headers = Fixture.headers([
            ("Content-Type", "application/json"), ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "42"),
            ("X-RateLimit-Reset", String(Fixture.now + 30)), ("X-Quota-Limit", "1000"), ("X-Quota-Remaining", "0"),
            ("X-Quota-Reset", String(Fixture.now + 86_400)),
        ])
        let doc = Fixture.normalize(
            429, #"{"error": {"code": "quota_exceeded", "message": "Monthly parse quota has been reached"}}"#,
            headers: headers, context: Fixture.context(dialect: .builtin("dokai")))
        #expect(doc.code == .quotaExceeded)
        #expect(doc.retryable == false)
        #expect(doc.retryAfter == 86_400)
    }

    @Test func dokaiRateLimitedUsesUnixReset() {
        let headers = Fixture.headers([
            ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", String(Fixture.now + 12)),
        ])
        let doc = Fixture.normalize(
            429, #"{"error": {"code": "rate_limited", "message": "Too many requests"}}"#,
            headers: headers)
        #expect(doc.code == .rateLimited)
        #expect(doc.retryAfter == 12)
        #expect(doc.retryable)
    }

    @Test(arguments: [
        (404, #"{"code": "resource_not_found", "params": null}"#, ErrorCode.notFound, "resource_not_found"),
        (409, #"{"code": "invitation_already_exists", "params": null}"#, .conflict, "invitation_already_exists"),
    ])
    func stempGeneral(status: Int, body: String, code: ErrorCode, vendorCode: String) {
        for dialect in [DialectSetting.builtin("stemp"), .auto] {
            let doc = Fixture.normalize(status, body, context: Fixture.context(dialect: dialect))
            #expect(doc.code == code)
            #expect(doc.upstream?.code == vendorCode)
            #expect(doc.params == nil)
            #expect(doc.detail == code.neutralDetail)
        }
    }

    @Test func stempWrongParamType() {
        let doc = Fixture.normalize(
            400, #"{"code": "wrong_param_type", "params": ["userId"]}"#,
            context: Fixture.context(dialect: .builtin("stemp")))
        #expect(doc.code == .badRequest)
        #expect(doc.params == [.string("userId")])
        #expect(doc.upstream == .init(name: "vendor", status: 400, code: "wrong_param_type", dialect: "stemp"))
    }

    @Test func stempAccessDenied() {
        let doc = Fixture.normalize(
            403, #"{"code": "access_denied", "message": "Insufficient scope: requires pass:create"}"#,
            context: Fixture.context(dialect: .builtin("stemp")))
        #expect(doc.code == .permissionDenied)
        #expect(doc.detail == "Insufficient scope: requires pass:create")
        #expect(doc.upstream?.code == "access_denied")
    }

    @Test func stempStandardValidation() {
        let body = #"{"STANDARD_VALIDATION": {"email": "must be a valid email address", "name": "must not be blank"}}"#
        let doc = Fixture.normalize(422, body)
        #expect(doc.code == .validationFailed)
        #expect(doc.detail == ErrorCode.validationFailed.neutralDetail)
        #expect(doc.upstream == .init(name: "vendor", status: 422, code: "STANDARD_VALIDATION", dialect: "field_map"))
        #expect(
            doc.errors == [
                FE(detail: "must be a valid email address", pointer: "#/email", field: "email"),
                FE(detail: "must not be blank", pointer: "#/name", field: "name"),
            ])
    }

    @Test func stempCustomValidation() {
        let doc = Fixture.normalize(
            422, #"{"CUSTOM_VALIDATION": {"email_already_exists": ["jane@example.com"]}}"#,
            context: Fixture.context(dialect: .builtin("stemp")))
        #expect(doc.code == .validationFailed)
        #expect(doc.upstream?.code == "CUSTOM_VALIDATION")
        #expect(
            doc.errors == [
                FE(detail: "Email already exists", code: "email_already_exists", params: [.string("jane@example.com")])
            ])
    }

    @Test func stempOAuth() {
        let body = #"{"error": "invalid_grant", "error_description": "Authorization code is expired or already used"}"#
        let doc = Fixture.normalize(400, body, context: Fixture.context(dialect: .builtin("stemp")))
        #expect(doc.code == .unauthenticated)
        #expect(doc.status == 400)
        #expect(doc.detail == "Authorization code is expired or already used")
        #expect(doc.upstream?.code == "invalid_grant")
        #expect(Fixture.normalize(400, body).upstream?.dialect == "oauth2")
    }

    @Test func stempTooManyRequestsWithoutBody() {
        let doc = Fixture.normalize(429, "", headers: Fixture.headers([("Retry-After", "5")]))
        #expect(doc.code == .rateLimited)
        #expect(doc.retryAfter == 5)
        #expect(doc.upstream == .init(name: "vendor", status: 429, code: nil, dialect: nil))
        #expect(doc.detail == ErrorCode.rateLimited.neutralDetail)
    }
}
