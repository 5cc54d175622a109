import HTTPTypes
import Testing

@testable import GatewayCore

@Suite("Upstream wait hints and HTTP-dates")
struct RetryHintTests {
    let now = 1_784_000_000  // 2026-07-14

    @Test func httpDatesInAllThreeForms() {
        let expected = 784_111_777  // Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 section 5.6.7)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == expected)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == expected)
        #expect(HTTPDate.parse("yesterday") == nil)
        #expect(HTTPDate.format(unixSeconds: expected) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func formatAndParseRoundTrip() {
        for seconds in stride(from: 0, to: 4_000_000_000, by: 97_654_321) {
            #expect(HTTPDate.parse(Substring(HTTPDate.format(unixSeconds: seconds))) == seconds)
        }
    }

    @Test func retryAfterAsSecondsOrDate() {
        #expect(RetryHint.retryAfter("120", nowUnixSeconds: self.now) == 120)
        #expect(RetryHint.retryAfter(HTTPDate.format(unixSeconds: self.now + 30), nowUnixSeconds: self.now) == 30)
        #expect(RetryHint.retryAfter(HTTPDate.format(unixSeconds: self.now - 30), nowUnixSeconds: self.now) == 0)
        #expect(RetryHint.retryAfter("-1", nowUnixSeconds: self.now) == nil)
    }

    @Test func resetAsUnixTimeOrDelta() {
        #expect(RetryHint.reset("60", nowUnixSeconds: self.now) == 60)
        #expect(RetryHint.reset(String(self.now + 45), nowUnixSeconds: self.now) == 45)
        #expect(RetryHint.reset("2.5", nowUnixSeconds: self.now) == 3)
        #expect(RetryHint.reset("soon", nowUnixSeconds: self.now) == nil)
    }

    @Test func precedenceAcrossHeaders() {
        var fields = HTTPFields()
        fields[.xRateLimitReset] = String(self.now + 90)
        fields[.xRateLimitRemaining] = "0"
        #expect(RetryHint.seconds(status: 429, headers: fields, nowUnixSeconds: self.now) == 90)
        fields[.rateLimit] = "\"a\";r=5;t=7, \"b\";r=0;t=12"
        #expect(RetryHint.seconds(status: 429, headers: fields, nowUnixSeconds: self.now) == 12)
        fields[.retryAfter] = "4"
        #expect(RetryHint.seconds(status: 429, headers: fields, nowUnixSeconds: self.now) == 4)
        var quota = HTTPFields()
        quota[.xQuotaReset] = String(self.now + 3600)
        #expect(RetryHint.seconds(status: 429, headers: quota, nowUnixSeconds: self.now) == nil)
        quota[.xQuotaRemaining] = "0"
        #expect(RetryHint.seconds(status: 429, headers: quota, nowUnixSeconds: self.now) == 3600)
    }

    @Test func headerSecondsRoundUpToAtLeastOne() {
        #expect(RetryHint.headerSeconds(for: .zero) == 1)
        #expect(RetryHint.headerSeconds(for: .milliseconds(200)) == 1)
        #expect(RetryHint.headerSeconds(for: .seconds(2)) == 2)
        #expect(RetryHint.headerSeconds(for: .milliseconds(2100)) == 3)
    }

    /// The one-pass check before the look-ups: every field the hint reads passes it, in any spelling, and the
    /// commonest other fields (those starting with `r` or `x` too) do not, so a response without them has no hint.
    /// (The upstream's other rate-limit fields, such as `RateLimit-Policy`, pass too: the look-ups then find no wait.)
    @Test func hintFieldsPassThePrecheckAndCommonFieldsDoNot() throws {
        let hintFields = [
            "Retry-After", "retry-after", "RateLimit", "X-RateLimit-Reset", "x-ratelimit-remaining", "X-Quota-Reset",
            "X-QUOTA-REMAINING",
        ]
        for name in hintFields {
            #expect(RetryHint.mayStateAWait(try #require(HTTPField.Name(name))), "\(name)")
        }
        for name in ["X-Request-ID", "Referer", "Retry", "X-Rate-Limit", "Content-Type", "Date", "x"] {
            #expect(!RetryHint.mayStateAWait(try #require(HTTPField.Name(name))), "\(name)")
        }
        let plain: HTTPFields = [.contentType: "application/json", .date: "Sun, 06 Nov 1994 08:49:37 GMT"]
        #expect(RetryHint.secondsWithSource(status: 429, headers: plain, nowUnixSeconds: self.now) == nil)
        var policyOnly = plain
        policyOnly[.rateLimitPolicy] = "\"p\";q=10;w=60"
        #expect(RetryHint.secondsWithSource(status: 429, headers: policyOnly, nowUnixSeconds: self.now) == nil)
        var limited = plain
        limited[.xRateLimitReset] = String(self.now + 40)
        let hint = try #require(RetryHint.secondsWithSource(status: 429, headers: limited, nowUnixSeconds: self.now))
        #expect(hint.seconds == 40 && hint.field == "X-RateLimit-Reset")
    }
}
