import GatewayCore
import GatewayTestSupport
import Testing
import VendorSimulator

/// Vendor errors rewritten through the whole gateway (SPEC section 3): the five seed vendors behind their presets,
/// each answering documented errors from vendor-sim's catalog.
@Suite struct NormalizationTests {
    static func config(port: Int) -> String {
        var yaml = "upstreams:\n"
        for vendor in VendorSimulator.vendors {
            yaml += """
                  \(vendor):
                    url: http://127.0.0.1:\(port)/\(vendor)
                    dialect: \(vendor)
                    retry: { attempts: 1 }

                """
        }
        yaml += """
              auto:
                url: http://127.0.0.1:\(port)
                retry: { attempts: 1 }
              eis:
                url: http://127.0.0.1:\(port)
                errors_in_success: true
            routes:

            """
        for vendor in VendorSimulator.vendors {
            yaml += """
                  - path_prefix: /\(vendor)/
                    strip_prefix: true
                    upstream: \(vendor)

                """
        }
        yaml += """
              - path_prefix: /auto/
                strip_prefix: true
                upstream: auto
              - path_prefix: /eis/
                strip_prefix: true
                upstream: eis
            """
        return yaml
    }

    /// The members every rewritten error carries.
    static func expectUpstreamEnvelope(
        _ response: RawHTTPClient.Response, status: Int, code: String, upstream: String, upstreamCode: String?,
        dialect: String, instance: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(response.status == status, "\(response)", sourceLocation: sourceLocation)
        let envelope = Envelope(response)
        #expect(envelope.status == status, sourceLocation: sourceLocation)
        #expect(envelope.code == code, sourceLocation: sourceLocation)
        #expect(envelope.type == "https://errors.gateway.dev/\(code)", sourceLocation: sourceLocation)
        #expect(envelope.source == "upstream", sourceLocation: sourceLocation)
        #expect(envelope.instance == instance, sourceLocation: sourceLocation)
        #expect(envelope.upstreamName == upstream, sourceLocation: sourceLocation)
        #expect(envelope.upstreamStatus == .some(status), sourceLocation: sourceLocation)
        if let upstreamCode {
            #expect(envelope.upstreamCode == upstreamCode, sourceLocation: sourceLocation)
        } else {
            #expect(envelope.upstreamCodeIsNull, "upstream.code should be null", sourceLocation: sourceLocation)
        }
        #expect(envelope.upstreamDialect == dialect, sourceLocation: sourceLocation)
        #expect(envelope.requestID == response.header("x-request-id"), sourceLocation: sourceLocation)
        #expect(response.header("content-type") == "application/problem+json", sourceLocation: sourceLocation)
    }

    @Test func dokstamp() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let validation = try await gateway.request("POST", "/dokstamp/certificates?error=validation", body: [])
                Self.expectUpstreamEnvelope(
                    validation, status: 422, code: "validation_failed", upstream: "dokstamp", upstreamCode: nil,
                    dialect: "dokstamp", instance: "/dokstamp/certificates")
                let envelope = Envelope(validation)
                #expect(envelope.detail == "The given data was invalid.")
                #expect(envelope.retryable == false)
                #expect(envelope.errorPointers == ["#/email", "#/email", "#/course_uuid"])
                #expect(
                    envelope.errorDetails == [
                        "The email field is required.", "The email must be a valid email address.",
                        "The selected course uuid is invalid.",
                    ])

                let notFound = try await gateway.request("GET", "/dokstamp/certificates/nope?error=not_found")
                Self.expectUpstreamEnvelope(
                    notFound, status: 404, code: "not_found", upstream: "dokstamp", upstreamCode: nil,
                    dialect: "dokstamp", instance: "/dokstamp/certificates/nope")
                #expect(Envelope(notFound).detail == "Resource not found.")

                // A 500's vendor text is hidden under the default `client_errors`.
                let server = try await gateway.request("GET", "/dokstamp/certificates?error=server")
                Self.expectUpstreamEnvelope(
                    server, status: 500, code: "upstream_error", upstream: "dokstamp", upstreamCode: nil,
                    dialect: "dokstamp", instance: "/dokstamp/certificates")
                #expect(Envelope(server).detail == ErrorCode.upstreamError.neutralDetail)
                #expect(!server.bodyText.contains("Server Error"))
                #expect(Envelope(server).retryable == true)
            }
        }
    }

    @Test func certifier() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let validation = try await gateway.request("POST", "/certifier/credentials?error=validation_error")
                Self.expectUpstreamEnvelope(
                    validation, status: 400, code: "validation_failed", upstream: "certifier",
                    upstreamCode: "validation_error", dialect: "certifier", instance: "/certifier/credentials")
                #expect(Envelope(validation).detail?.hasPrefix("This usually occurs because") == true)

                let payment = try await gateway.request("GET", "/certifier/credentials?error=payment_required")
                Self.expectUpstreamEnvelope(
                    payment, status: 402, code: "payment_required", upstream: "certifier",
                    upstreamCode: "payment_required", dialect: "certifier", instance: "/certifier/credentials")

                let serverError = try await gateway.request("GET", "/certifier/credentials?error=internal_server_error")
                Self.expectUpstreamEnvelope(
                    serverError, status: 500, code: "upstream_error", upstream: "certifier",
                    upstreamCode: "internal_server_error", dialect: "certifier", instance: "/certifier/credentials")
                #expect(Envelope(serverError).detail == ErrorCode.upstreamError.neutralDetail)
                #expect(!serverError.bodyText.contains("Certifier's end"))
            }
        }
    }

    @Test func docyard() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let validation = try await gateway.request("POST", "/docyard/docks?error=validation")
                Self.expectUpstreamEnvelope(
                    validation, status: 400, code: "validation_failed", upstream: "docyard", upstreamCode: nil,
                    dialect: "docyard", instance: "/docyard/docks")
                #expect(Envelope(validation).errorPointers == ["#/name", "#/email"])
                #expect(Envelope(validation).errorDetails == ["name must be a string", "email must be an email"])

                let limited = try await gateway.request("GET", "/docyard/docks?error=rate_limited")
                Self.expectUpstreamEnvelope(
                    limited, status: 429, code: "rate_limited", upstream: "docyard", upstreamCode: nil,
                    dialect: "docyard", instance: "/docyard/docks")
                #expect(Envelope(limited).retryAfter == 2)
                #expect(limited.header("retry-after") == "2")
                #expect(Envelope(limited).retryable == true)

                let conflict = try await gateway.request("POST", "/docyard/docks?error=conflict")
                Self.expectUpstreamEnvelope(
                    conflict, status: 409, code: "conflict", upstream: "docyard", upstreamCode: nil,
                    dialect: "docyard", instance: "/docyard/docks")
                #expect(
                    Envelope(conflict).detail == "A recipient with email 'jane@example.com' already exists in this dock"
                )
            }
        }
    }

    @Test func dokai() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let fileType = try await gateway.request("POST", "/dokai/v1/parse?error=invalid_file_type")
                Self.expectUpstreamEnvelope(
                    fileType, status: 422, code: "validation_failed", upstream: "dokai",
                    upstreamCode: "invalid_file_type", dialect: "dokai", instance: "/dokai/v1/parse")
                #expect(Envelope(fileType).detail == "The uploaded file is not a supported image format.")
                #expect(
                    Envelope(fileType).suggestions == [
                        "Upload a JPEG, PNG, or WebP image", "Ensure the file is not corrupted",
                        "Check that the Content-Type header matches the file",
                    ])

                let quota = try await gateway.request("POST", "/dokai/v1/parse?error=quota_exceeded")
                Self.expectUpstreamEnvelope(
                    quota, status: 429, code: "quota_exceeded", upstream: "dokai", upstreamCode: "quota_exceeded",
                    dialect: "dokai", instance: "/dokai/v1/parse")
                let retryAfter = try #require(Envelope(quota).retryAfter)
                #expect(abs(retryAfter - 1_209_600) <= 2, "retry_after \(retryAfter) should follow X-Quota-Reset")
                #expect(quota.header("retry-after") == String(retryAfter))
                #expect(Envelope(quota).retryable == false)

                let forbidden = try await gateway.request("GET", "/dokai/v1/usage?error=forbidden")
                Self.expectUpstreamEnvelope(
                    forbidden, status: 403, code: "permission_denied", upstream: "dokai", upstreamCode: "forbidden",
                    dialect: "dokai", instance: "/dokai/v1/usage")
            }
        }
    }

    @Test func stemp() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let validation = try await gateway.request("POST", "/stemp/v1/users?error=standard_validation")
                Self.expectUpstreamEnvelope(
                    validation, status: 422, code: "validation_failed", upstream: "stemp",
                    upstreamCode: "STANDARD_VALIDATION", dialect: "stemp", instance: "/stemp/v1/users")
                #expect(Envelope(validation).errorPointers == ["#/email", "#/name"])
                #expect(Envelope(validation).errorDetails == ["must be a valid email address", "must not be blank"])

                let grant = try await gateway.request("POST", "/stemp/oauth/token?error=oauth_invalid_grant")
                Self.expectUpstreamEnvelope(
                    grant, status: 400, code: "unauthenticated", upstream: "stemp", upstreamCode: "invalid_grant",
                    dialect: "stemp", instance: "/stemp/oauth/token")
                #expect(Envelope(grant).detail == "Authorization code is expired or already used")

                let limited = try await gateway.request("GET", "/stemp/v1/users?error=rate_limited")
                Self.expectUpstreamEnvelope(
                    limited, status: 429, code: "rate_limited", upstream: "stemp", upstreamCode: "too_many_requests",
                    dialect: "stemp", instance: "/stemp/v1/users")
                #expect(Envelope(limited).retryAfter == 5)
                #expect(limited.header("retry-after") == "5")
            }
        }
    }

    /// SPEC section 4: upstream `X-RateLimit-*` / `RateLimit*` headers pass through untouched on a route with no
    /// policy of its own, error responses included.
    @Test func upstreamRateLimitHeadersPassThroughOnRewrittenErrors() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let success = try await gateway.request("GET", "/dokai/v1/usage")
                #expect(success.status == 200)
                #expect(success.header("x-ratelimit-limit") == "60")
                #expect(success.header("x-ratelimit-remaining") == "42")

                let error = try await gateway.request("POST", "/dokai/v1/parse?error=invalid_file_type")
                #expect(error.status == 422)
                #expect(error.header("x-ratelimit-limit") == "60")
                #expect(error.header("x-ratelimit-remaining") == "42")
            }
        }
    }

    @Test func autoDialectRecognisesTheFamily() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let laravel = try await gateway.request("POST", "/auto/dokstamp/certificates?error=validation")
                Self.expectUpstreamEnvelope(
                    laravel, status: 422, code: "validation_failed", upstream: "auto", upstreamCode: nil,
                    dialect: "laravel", instance: "/auto/dokstamp/certificates")
                let nest = try await gateway.request("GET", "/auto/docyard/docks?error=bad_request")
                Self.expectUpstreamEnvelope(
                    nest, status: 400, code: "bad_request", upstream: "auto", upstreamCode: nil, dialect: "nestjs",
                    instance: "/auto/docyard/docks")
            }
        }
    }

    @Test func errorsInSuccessRewritesOnlyWhenEnabled() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let query =
                    "status=200&content_type=application/json"
                    + "&body=%7B%22ok%22%3Afalse%2C%22error%22%3A%22channel_not_found%22%7D"
                let rewritten = try await gateway.request("GET", "/eis/chat?\(query)")
                #expect(rewritten.status == 404)
                let envelope = Envelope(rewritten)
                #expect(envelope.code == "not_found")
                #expect(envelope.source == "upstream")
                #expect(envelope.upstreamName == "eis")
                #expect(envelope.upstreamStatus == .some(200))
                #expect(envelope.upstreamCode == "channel_not_found")
                #expect(envelope.upstreamDialect == "slack")

                let untouched = try await gateway.request("GET", "/auto/chat?\(query)")
                #expect(untouched.status == 200)
                #expect(untouched.bodyText == #"{"ok":false,"error":"channel_not_found"}"#)
                #expect(untouched.header("content-type") == "application/json")

                // A genuine success passes through an errors_in_success upstream unchanged.
                let fine = try await gateway.request(
                    "GET", "/eis/chat?status=200&content_type=application/json&body=%7B%22ok%22%3Atrue%7D")
                #expect(fine.status == 200)
                #expect(fine.bodyText == #"{"ok":true}"#)
            }
        }
    }

    @Test func envelopeMediaTypeNegotiation() async throws {
        try await withSimulator { sim in
            try await withGateway(yaml: Self.config(port: sim.port)) { gateway in
                let json = try await gateway.request(
                    "GET", "/dokstamp/certificates?error=not_found", headers: [("Accept", "application/json")])
                #expect(json.status == 404)
                #expect(json.header("content-type") == "application/json")
                #expect(Envelope(json).code == "not_found")

                let gatewayMade = try await gateway.request(
                    "GET", "/nowhere", headers: [("Accept", "text/html, application/json;q=0.9")])
                #expect(gatewayMade.header("content-type") == "application/json")

                let preferred = try await gateway.request(
                    "GET", "/nowhere", headers: [("Accept", "application/problem+json, application/json")])
                #expect(preferred.header("content-type") == "application/problem+json")

                let byDefault = try await gateway.request("GET", "/dokstamp/certificates?error=not_found")
                #expect(byDefault.header("content-type") == "application/problem+json")
                let anything = try await gateway.request("GET", "/nowhere", headers: [("Accept", "*/*")])
                #expect(anything.header("content-type") == "application/problem+json")
            }
        }
    }
}
