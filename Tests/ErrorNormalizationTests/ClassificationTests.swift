import GatewayCore
import HTTPTypes
import Testing

@testable import ErrorNormalization

/// The classification layer on its own: word splitting, the vocabulary, header signals and the precedence.
@Suite struct ClassificationTests {
    @Test(arguments: [
        ("ResourceNotFoundException", ["resource", "not", "found", "exception"]),
        ("API_KEY_INVALID", ["api", "key", "invalid"]),
        ("APIKeyInvalid", ["api", "key", "invalid"]),
        ("rate-limit.exceeded", ["rate", "limit", "exceeded"]),
        ("userRateLimitExceeded", ["user", "rate", "limit", "exceeded"]),
        ("v2beta", ["v", "2", "beta"]),
        ("Rate limit exceeded: retry in 5s", ["rate", "limit", "exceeded", "retry", "in", "5", "s"]),
        ("", []),
        ("é_not found", ["not", "found"]),
    ])
    func wordsSplitEverySpelling(text: String, words: [String]) {
        #expect(CodeWords.words(text).map(String.init) == words)
    }

    @Test func wordsAreBounded() {
        let long = String(repeating: "word ", count: 10_000)
        #expect(CodeWords.words(long).count == CodeWords.maximumWords)
    }

    @Test(arguments: [
        ("ResourceNotFoundException", ErrorCode.notFound),
        ("ProvisionedThroughputExceededException", .rateLimited),
        ("ThrottlingException", .rateLimited),
        ("insufficient_quota", .quotaExceeded),
        ("API_KEY_INVALID", .unauthenticated),
        ("invalid_api_key", .unauthenticated),
        ("overloaded_error", .upstreamUnavailable),
        ("AlreadyExists", .conflict),
        ("card_declined", .paymentRequired),
        ("unauthorized_client", .permissionDenied),
        ("invalid_request_error", .badRequest),
        ("payment_required", .paymentRequired),
        ("dailyLimitExceeded", .quotaExceeded),
        ("key_expired", .unauthenticated),
    ])
    func codeVocabulary(code: String, expected: ErrorCode) {
        #expect(VocabularyMatcher.codes.matchesInSequence(CodeWords.words(code)).first?.code == expected)
    }

    @Test func messagePhrasesMustStandTogether() {
        let scattered = CodeWords.words("The token was not accepted; the field was found empty")
        #expect(VocabularyMatcher.messages.matchesInSequence(scattered).allSatisfy { $0.code != .notFound })
        let together = CodeWords.words("API rate limit exceeded for 1.2.3.4")
        #expect(VocabularyMatcher.messages.matchesInSequence(together).first?.code == .rateLimited)
    }

    private func classify(
        _ status: Int, code: String? = nil, message: String? = nil, headers: [(String, String)] = [],
        operatorCodes: [String: ErrorCode] = [:], fieldErrors: Bool = false
    ) -> (ErrorCode, Classifier.Rule) {
        var vendor = VendorError(dialectName: "generic", code: code, message: message)
        if fieldErrors { vendor.fieldErrors = [.init(field: "email", message: "is invalid")] }
        let result = Classifier.classify(
            status: status, headers: Fixture.headers(headers), vendor: vendor, operatorCodes: operatorCodes,
            preset: nil)
        return (result.code, result.rule)
    }

    @Test func precedenceOperatorTableFirst() {
        let (code, rule) = self.classify(400, code: "Throttling", operatorCodes: ["Throttling": .conflict])
        #expect(code == .conflict)
        #expect(rule == .operatorTable(vendorCode: "Throttling"))
    }

    @Test func headerSignalsBeforeVendorCode() {
        let (code, rule) = self.classify(403, code: "forbidden", headers: [("X-RateLimit-Remaining", "0")])
        #expect(code == .rateLimited)
        #expect(rule == .rateLimitHeaders(field: "X-RateLimit-Remaining"))
        let bearer = self.classify(
            401, headers: [("WWW-Authenticate", #"Bearer realm="x", error="insufficient_scope", scope="a b""#)])
        #expect(bearer.0 == .unauthenticated, "a 401 stays unauthenticated: permission is not a refinement of it")
        let forbidden = self.classify(403, headers: [("WWW-Authenticate", #"Bearer error="invalid_token""#)])
        #expect(forbidden.0 == .unauthenticated)
    }

    @Test func aSpentWindowDoesNotTurnA404IntoARateLimit() {
        #expect(self.classify(404, headers: [("X-RateLimit-Remaining", "0")]).0 == .notFound)
    }

    @Test func vendorCodeBeforeMessage() {
        let (code, rule) = self.classify(400, code: "ResourceNotFoundException", message: "rate limit exceeded")
        #expect(code == .notFound)
        #expect(rule == .codeVocabulary(vendorCode: "ResourceNotFoundException", phrase: "not found"))
    }

    @Test func messageBeforeStatus() {
        #expect(self.classify(403, message: "API rate limit exceeded for user ID 1.").0 == .rateLimited)
        #expect(self.classify(400, message: "Authentication error").0 == .unauthenticated)
    }

    @Test func refinementsNeverContradictTheStatus() {
        #expect(self.classify(404, code: "invalid_request_error").0 == .notFound)
        #expect(self.classify(404, message: "Invalid API key").0 == .notFound)
        #expect(self.classify(503, code: "not_found").0 == .upstreamUnavailable)
        #expect(self.classify(503, code: "internal_error").0 == .upstreamError, "Certifier: the code, not the status")
        #expect(self.classify(529, code: "overloaded_error").0 == .upstreamUnavailable)
        #expect(self.classify(429, code: "insufficient_quota").0 == .quotaExceeded)
        #expect(self.classify(503, code: "SlowDown").0 == .rateLimited)
    }

    @Test func statusClassLast() {
        #expect(self.classify(400).0 == .badRequest)
        #expect(self.classify(400, fieldErrors: true) == (.validationFailed, .statusWithFieldErrors(400)))
        #expect(self.classify(400, code: "invalid_request", fieldErrors: true).0 == .validationFailed)
        #expect(self.classify(418).0 == .badRequest)
        #expect(self.classify(599).0 == .upstreamError)
    }

    @Test func bearerChallengeParameters() {
        let headers = Fixture.headers([
            (
                "WWW-Authenticate",
                #"Basic realm="a", Bearer realm="example", error="invalid_token", error_description="The access token expired""#
            )
        ])
        #expect(
            HeaderSignals.bearerChallenge(headers)
                == .init(error: "invalid_token", description: "The access token expired"))
        #expect(HeaderSignals.bearerChallenge(Fixture.headers([("WWW-Authenticate", "Bearer realm=\"x\"")])) == nil)
        #expect(
            HeaderSignals.bearerChallenge(Fixture.headers([("WWW-Authenticate", "bearer error=invalid_request")]))
                == .init(error: "invalid_request", description: nil))
    }

    @Test func amazonErrorTypeHeader() {
        let headers = Fixture.headers([("x-amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/")])
        #expect(HeaderSignals.vendorCode(headers) == "ResourceNotFoundException")
    }

    @Test(arguments: [("2.0", 2), ("2.1", 3), ("0", 0), ("7", 7), ("Thu, 06 Mar 2025 15:47:40 GMT", 60)])
    func retryAfterForms(value: String, seconds: Int) {
        #expect(RetryHint.retryAfter(value, nowUnixSeconds: 1_741_276_000) == seconds)
    }

    @Test(arguments: ["-1", "1e300", "abc", "2.0.1", ".5s"])
    func retryAfterRefusesGarbage(value: String) {
        #expect(RetryHint.retryAfter(value, nowUnixSeconds: 1_741_276_000) == nil)
    }
}

/// `HTTPResponseText`: the text form of a response that `gateway explain` and the corpus read.
@Suite struct HTTPResponseTextTests {
    @Test func parsesCRLFAndLF() throws {
        for separator in ["\r\n", "\n"] {
            let text = [
                "HTTP/1.1 429 Too Many Requests", "Retry-After: 2.0", "Content-Type:  application/json ", "",
                #"{"a": 1}"#,
            ].joined(separator: separator)
            let response = try HTTPResponseText(parsing: Array(text.utf8))
            #expect(response.status == 429)
            #expect(response.headers[.retryAfter] == "2.0")
            #expect(response.headers[.contentType] == "application/json")
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"a": 1}"#)
        }
    }

    @Test func noBodyNoReasonPhrase() throws {
        let response = try HTTPResponseText(parsing: Array("HTTP/2 401\nWWW-Authenticate: Bearer\n".utf8))
        #expect(response.status == 401)
        #expect(response.body.isEmpty)
    }

    @Test(arguments: [
        ("", 1), (#"{"error": "x"}"#, 1), ("HTTP/1.1 4044 Nope", 1), ("HTTP/1.1 404\nno colon here\n\n", 2),
        ("HTTP/1.1 404\nBad Name: x\n\n", 2),
    ])
    func refusesWhatIsNotAResponse(text: String, line: Int) {
        #expect(throws: HTTPResponseText.ParseError.self) { try HTTPResponseText(parsing: Array(text.utf8)) }
        do {
            _ = try HTTPResponseText(parsing: Array(text.utf8))
        } catch {
            #expect(error.line == line)
        }
    }
}
