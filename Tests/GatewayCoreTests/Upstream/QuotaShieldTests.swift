import GatewayCore
import HTTPTypes
import Testing

/// What counts as "spent", for how long, and what the shield keeps (SPEC section 2, `quota_shield`).
@Suite struct QuotaShieldTests {
    static let now: Int64 = 1_700_000_000_000  // Unix milliseconds
    static let hour = Duration.seconds(3600)

    static func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    static func block(
        _ status: Int, _ pairs: [(String, String)], code: ErrorCode? = nil, maxWait: Duration = hour
    ) -> QuotaShieldBlock? {
        QuotaShield.block(
            status: status, headers: Self.fields(pairs), code: code, nowUnixMilliseconds: Self.now, maxWait: maxWait)
    }

    @Test func a429Or503WithRetryAfterIsSpent() throws {
        let rate = try #require(Self.block(429, [("Retry-After", "30")]))
        #expect(rate.untilUnixMilliseconds == Self.now + 30_000)
        #expect(rate.kind == .rate)
        #expect(rate.code == .rateLimited)
        #expect(Self.block(503, [("Retry-After", "2.5")])?.untilUnixMilliseconds == Self.now + 3_000)
        let date = HTTPDate.format(unixSeconds: Int(Self.now / 1000) + 60)
        #expect(Self.block(429, [("Retry-After", date)])?.untilUnixMilliseconds == Self.now + 60_000)
    }

    @Test func retryAfterOnOtherStatusesOrWithoutAWaitIsNot() {
        #expect(Self.block(500, [("Retry-After", "30")]) == nil)
        #expect(Self.block(200, [("Retry-After", "30")]) == nil)
        #expect(Self.block(429, [("Retry-After", "0")]) == nil)
        #expect(Self.block(429, []) == nil, "a 429 that does not say when is not remembered")
        #expect(Self.block(429, [("Retry-After", "soon")]) == nil)
    }

    @Test func aRemainingOfZeroWithAResetIsSpentWhateverTheStatus() throws {
        let unix = Int(Self.now / 1000) + 90
        let timestamp = try #require(
            Self.block(200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", String(unix))]))
        #expect(timestamp.untilUnixMilliseconds == Self.now + 90_000)
        #expect(
            Self.block(200, [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "12")])?.untilUnixMilliseconds
                == Self.now + 12_000)
        #expect(Self.block(200, [("RateLimit", "\"default\";r=0;t=7")])?.untilUnixMilliseconds == Self.now + 7_000)
        #expect(
            Self.block(200, [("RateLimit-Remaining", "0"), ("RateLimit-Reset", "5")])?.untilUnixMilliseconds
                == Self.now + 5_000)
        // Not spent: tokens left, or no reset to wait for.
        #expect(Self.block(200, [("X-RateLimit-Remaining", "1"), ("X-RateLimit-Reset", "12")]) == nil)
        #expect(Self.block(200, [("X-RateLimit-Remaining", "0")]) == nil)
        #expect(Self.block(200, [("RateLimit", "\"default\";r=3;t=7")]) == nil)
    }

    @Test func quotaIsToldFromRate() throws {
        let quota = try #require(Self.block(403, [("X-Quota-Remaining", "0"), ("X-Quota-Reset", "600")]))
        #expect(quota.kind == .quota)
        #expect(quota.code == .quotaExceeded)
        #expect(Self.block(429, [("Retry-After", "60")], code: .quotaExceeded)?.kind == .quota)
        #expect(Self.block(429, [("Retry-After", "60")], code: .rateLimited)?.kind == .rate)
    }

    @Test func theLatestResetWinsAndMaxWaitBoundsIt() throws {
        let both = try #require(
            Self.block(429, [("Retry-After", "10"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "40")]))
        #expect(both.untilUnixMilliseconds == Self.now + 40_000)
        #expect(Self.block(429, [("Retry-After", "7200")]) == nil, "further than max_wait: not trusted")
        #expect(Self.block(429, [("Retry-After", "60")], maxWait: .seconds(59)) == nil)
        #expect(Self.block(429, [("Retry-After", "60")], maxWait: .seconds(60)) != nil)
    }

    @Test func theVendorsRateLimitFieldsAreKeptAsSeen() throws {
        let block = try #require(
            Self.block(
                429,
                [
                    ("Content-Type", "application/json"), ("Retry-After", "5"), ("X-RateLimit-Limit", "100"),
                    ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "5"), ("Set-Cookie", "a=b"),
                    ("RateLimit-Policy", "\"h\";q=100;w=3600"),
                ]))
        #expect(
            block.fields.map(\.name.rawName) == [
                "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy",
            ])
    }

    @Test func retryAfterCountsDown() throws {
        let block = try #require(Self.block(429, [("Retry-After", "30")]))
        #expect(block.retryAfterSeconds(nowUnixMilliseconds: Self.now) == 30)
        #expect(block.retryAfterSeconds(nowUnixMilliseconds: Self.now + 10_500) == 20)
        #expect(block.retryAfterSeconds(nowUnixMilliseconds: Self.now + 29_999) == 1)
        #expect(block.holds(nowUnixMilliseconds: Self.now + 29_999))
        #expect(!block.holds(nowUnixMilliseconds: Self.now + 30_000))
    }

    @Test func blocksSurviveTheSharedStoresEncoding() throws {
        let block = QuotaShieldBlock(
            untilUnixMilliseconds: 123, kind: .quota,
            fields: Self.fields([("X-Quota-Remaining", "0"), ("RateLimit", "\"a|b\";r=0;t=5"), ("X-Odd", "50%:x")])
                .map { $0 })
        #expect(QuotaShieldBlock(encoded: block.encoded()) == block)
        #expect(QuotaShieldBlock(encoded: "garbage") == nil)
        #expect(QuotaShieldBlock(encoded: "12|never") == nil)
    }

    @Test func headerKeysAreDigestsNeverTheValue() {
        let key = QuotaShield.storeKey(
            upstream: "dokai", key: .header("Authorization"), headerValue: "Bearer sk-secret")
        #expect(!key.contains("sk-secret"))
        #expect(key.hasPrefix("dokai:h:"))
        #expect(key.count == "dokai:h:".count + 64)
        #expect(
            key != QuotaShield.storeKey(upstream: "dokai", key: .header("Authorization"), headerValue: "Bearer other"))
        #expect(QuotaShield.storeKey(upstream: "dokai", key: .global, headerValue: nil) == "dokai:global")
        #expect(QuotaShield.storeKey(upstream: "dokai", key: .header("Authorization"), headerValue: nil) == "dokai:h:-")
    }

    /// FIPS 180-2 appendix B test vectors, and the padding edge at 55/56/64 bytes.
    @Test func sha256MatchesTheStandardsVectors() {
        func key(_ text: String) -> String {
            String(QuotaShield.storeKey(upstream: "u", key: .header("A"), headerValue: text).dropFirst("u:h:".count))
        }
        #expect(key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(key("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(
            key("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(
            key(String(repeating: "a", count: 64))
                == "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
    }

    @Test func theMemoryStoreForgetsExpiredBlocks() async {
        let store = MemoryQuotaShieldStore()
        let block = QuotaShieldBlock(untilUnixMilliseconds: Self.now + 1000, kind: .rate, fields: [])
        await store.record(block, for: "k", nowUnixMilliseconds: Self.now)
        #expect(await store.block(for: "k", nowUnixMilliseconds: Self.now + 999) == block)
        #expect(await store.block(for: "other", nowUnixMilliseconds: Self.now) == nil)
        #expect(await store.block(for: "k", nowUnixMilliseconds: Self.now + 1000) == nil)
        #expect(store.count == 0)
    }

    @Test func proxyURLsAreReadWithTheirDefaultsAndNeverShowCredentials() throws {
        let proxy = try #require(EgressProxy("http://user:p%40ss@proxy.internal:3128/"))
        #expect(proxy.host == "proxy.internal")
        #expect(proxy.port == 3128)
        #expect(proxy.hasCredentials)
        #expect(proxy.description == "http://proxy.internal:3128")
        #expect(EgressProxy("https://proxy")?.port == 443)
        #expect(EgressProxy("http://proxy")?.port == 80)
        #expect(EgressProxy("socks5h://[::1]")?.description == "socks5h://[::1]:1080")
        #expect(EgressProxy("socks4://proxy:1080") == nil)
        #expect(EgressProxy("http://proxy:3128/path") == nil)
        #expect(EgressProxy("http://@proxy:3128") == nil)
        #expect(EgressProxy("proxy:3128") == nil)
    }
}
