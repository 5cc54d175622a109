import GatewayTestSupport
import HTTPTypes
import Testing

@testable import GatewayCore

@Suite struct RateLimitHeadersTests {
    let perClient = RateLimitPolicy(
        name: "per_client", rate: Rate(count: 100, period: .seconds(60)), burst: 20, key: .clientIP
    )
    let perTenant = RateLimitPolicy(
        name: "per_tenant", rate: Rate(count: 1000, period: .seconds(3600)), key: .header("X-Tenant")
    )
    let now = 1_700_000_000

    func text(_ fields: [HTTPField]) -> [String] {
        fields.map { "\($0.name.rawName): \($0.value)" }
    }

    @Test func rendersTheSpecExample() {
        let states = [
            RateLimitBucketState(policy: self.perClient, remaining: 0, resetAfter: .seconds(12)),
            RateLimitBucketState(policy: self.perTenant, remaining: 999, resetAfter: .milliseconds(3600)),
        ]
        #expect(
            self.text(RateLimitHeaders.render(states, nowUnixSeconds: self.now)) == [
                "X-RateLimit-Limit: 20",
                "X-RateLimit-Remaining: 0",
                "X-RateLimit-Reset: 1700000012",
                "RateLimit-Policy: \"per_client\";q=20;w=12, \"per_tenant\";q=1000;w=3600",
                "RateLimit: \"per_client\";r=0;t=12",
            ]
        )
        #expect(RateLimitHeaders.render([], nowUnixSeconds: self.now).isEmpty)
    }

    @Test func roundsUpAndPicksTheLongerRefillOnATie() {
        let states = [
            RateLimitBucketState(policy: self.perClient, remaining: 5, resetAfter: .milliseconds(8_400)),
            RateLimitBucketState(policy: self.perTenant, remaining: 5, resetAfter: .milliseconds(3_596_400)),
        ]
        #expect(
            self.text(RateLimitHeaders.render(states, nowUnixSeconds: self.now)) == [
                "X-RateLimit-Limit: 1000",
                "X-RateLimit-Remaining: 5",
                "X-RateLimit-Reset: 1700003597",
                "RateLimit-Policy: \"per_client\";q=20;w=12, \"per_tenant\";q=1000;w=3600",
                "RateLimit: \"per_tenant\";r=5;t=3597",
            ]
        )
        // A window under a second is written as 1.
        let fast = RateLimitPolicy(name: "fast", rate: Rate(count: 1000, period: .seconds(1)), burst: 10, key: .global)
        #expect(RateLimitHeaders.windowSeconds(fast) == 1)
    }

    @Test func retryAfterIsWholeSecondsRoundedUpAtLeastOne() {
        #expect(RateLimitHeaders.retryAfterSeconds(.zero) == 1)
        #expect(RateLimitHeaders.retryAfterSeconds(.milliseconds(100)) == 1)
        #expect(RateLimitHeaders.retryAfterSeconds(.seconds(1)) == 1)
        #expect(RateLimitHeaders.retryAfterSeconds(.milliseconds(1_001)) == 2)
        #expect(RateLimitHeaders.retryAfterSeconds(.seconds(600)) == 600)
    }

    // MARK: merge

    var gatewayStates: [RateLimitBucketState] {
        [RateLimitBucketState(policy: self.perClient, remaining: 7, resetAfter: .seconds(8))]
    }

    func fields(_ pairs: [(String, String)]) -> HTTPFields {
        HTTPFields(pairs.map { HTTPField(name: HTTPField.Name($0.0)!, value: $0.1) })
    }

    func text(_ fields: HTTPFields) -> [String] {
        fields.map { "\($0.name.rawName): \($0.value)" }
    }

    /// An upstream without rate-limit fields (the common case, answered without reading any) gets the gateway's
    /// fields appended exactly as `render` makes them: the same as the general path gives when it finds nothing.
    @Test func anUpstreamWithoutRateLimitFieldsGetsTheRenderedOnes() {
        let upstreams = [
            self.fields([]),
            self.fields([("Content-Type", "application/json"), ("X-Quota-Remaining", "3"), ("Retry-After", "5")]),
            self.fields([("x-ratelimited", "no"), ("Rate", "1"), ("X-Rate-Limit", "2")]),
        ]
        let states = [
            RateLimitBucketState(policy: self.perClient, remaining: 0, resetAfter: .milliseconds(11_200)),
            RateLimitBucketState(policy: self.perTenant, remaining: 12, resetAfter: .seconds(3)),
        ]
        for upstream in upstreams {
            for gateway in [[states[0]], [states[1]], states] {
                let merged = RateLimitHeaders.merge(
                    upstream: upstream, gateway: gateway, upstreamName: "up", nowUnixSeconds: self.now)
                let expected = Array(upstream) + RateLimitHeaders.render(gateway, nowUnixSeconds: self.now)
                #expect(self.text(merged) == self.text(HTTPFields(expected)))
            }
        }
        for name in ["X-RateLimit-Remaining", "x-ratelimit-reset", "RateLimit", "RateLimit-Policy", "ratelimit-limit"] {
            #expect(RateLimitHeaders.isRateLimitField(HTTPField.Name(name)!), "\(name)")
        }
        for name in ["X-Rate-Limit", "Rate", "X-Quota-Remaining", "Retry-After", "x-ratelimited"] {
            #expect(!RateLimitHeaders.isRateLimitField(HTTPField.Name(name)!), "\(name)")
        }
    }

    /// The prefix check in front of the set gives the set's answer, for every member in several spellings and for
    /// names that share a prefix without being members.
    @Test func isUpstreamFieldAgreesWithTheSet() {
        var names = RateLimitHeaders.upstreamFields.flatMap { name in
            [name.rawName, name.canonicalName, name.rawName.uppercased()]
        }
        names += [
            "Date", "Content-Type", "X-Request-ID", "Retry-After", "x-ratelimit-used", "X-RateLimit-Resource",
            "ratelimit-policies", "RateLimited", "X-Quota", "x-quota-used", "r", "x", "Via", "X-Rate-Limit-Limit",
        ]
        for text in names {
            let name = HTTPField.Name(text)!
            #expect(RateLimitHeaders.isUpstreamField(name) == RateLimitHeaders.upstreamFields.contains(name), "\(text)")
        }
        #expect(RateLimitHeaders.isUpstreamField(.xQuotaReset))
        #expect(!RateLimitHeaders.isUpstreamField(HTTPField.Name("x-ratelimit-used")!))
    }

    /// A policy's constant texts follow its name, rate and burst, set at creation or changed after.
    @Test func aPolicysHeaderTextFollowsItsSettings() {
        var policy = RateLimitPolicy(name: "per_client", rate: Rate(count: 20, period: .seconds(12)), key: .clientIP)
        #expect(policy.quotedName == "\"per_client\"")
        #expect(policy.policyItem == "\"per_client\";q=20;w=12")
        policy.burst = 40
        #expect(policy.policyItem == "\"per_client\";q=40;w=24")
        policy.rate = Rate(count: 40, period: .seconds(1))
        #expect(policy.policyItem == "\"per_client\";q=40;w=1")
        policy.name = "odd\"name"
        #expect(policy.quotedName == "\"odd\\\"name\"")
        #expect(policy.policyItem == "\"odd\\\"name\";q=40;w=1")
        #expect(
            policy
                == RateLimitPolicy(
                    name: "odd\"name", rate: Rate(count: 40, period: .seconds(1)), burst: 40, key: .clientIP))
    }

    @Test func withoutGatewayPoliciesUpstreamFieldsPassUntouched() {
        let upstream = self.fields([("X-RateLimit-Remaining", "900"), ("RateLimit", "\"up\";r=900;t=60")])
        #expect(
            RateLimitHeaders.merge(upstream: upstream, gateway: [], upstreamName: "up", nowUnixSeconds: self.now)
                == upstream)
    }

    @Test func upstreamMoreRestrictiveIsKeptAndListsAreAppended() {
        let upstream = self.fields([
            ("Content-Type", "application/json"),
            ("X-RateLimit-Limit", "5000"),
            ("X-RateLimit-Remaining", "3"),
            ("X-RateLimit-Reset", "1700000500"),
            ("X-Quota-Remaining", "0"),
            ("RateLimit-Policy", "\"hour\";q=5000;w=3600"),
            ("RateLimit", "\"hour\";r=3;t=500"),
        ])
        #expect(
            self.text(
                RateLimitHeaders.merge(
                    upstream: upstream, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now))
                == [
                    "Content-Type: application/json",
                    "X-RateLimit-Limit: 5000",
                    "X-RateLimit-Remaining: 3",
                    "X-RateLimit-Reset: 1700000500",
                    "X-Quota-Remaining: 0",
                    "RateLimit-Policy: \"hour\";q=5000;w=3600, \"per_client\";q=20;w=12",
                    "RateLimit: \"hour\";r=3;t=500, \"per_client\";r=7;t=8",
                ]
        )
    }

    @Test func gatewayMoreRestrictiveReplacesGitHubStyleFields() {
        let upstream = self.fields([
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4999"),
            ("x-ratelimit-reset", "1700003600"),
            ("x-ratelimit-used", "1"),
        ])
        #expect(
            self.text(
                RateLimitHeaders.merge(
                    upstream: upstream, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now))
                == [
                    "x-ratelimit-used: 1",
                    "X-RateLimit-Limit: 20",
                    "X-RateLimit-Remaining: 7",
                    "X-RateLimit-Reset: 1700000008",
                    // The upstream's limit, known only from its X- fields, becomes an IETF item of its own.
                    "RateLimit-Policy: \"up\";q=5000, \"per_client\";q=20;w=12",
                    "RateLimit: \"up\";r=4999;t=3600, \"per_client\";r=7;t=8",
                ]
        )
    }

    @Test func anExhaustedXOnlyUpstreamShowsInTheIETFFieldsToo() {
        // Dokai's 429: X-RateLimit-Remaining: 0 and nothing else; the gateway's bucket has 7 left.
        let upstream = self.fields([
            ("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "1700000030"),
        ])
        let merged = RateLimitHeaders.merge(
            upstream: upstream, gateway: self.gatewayStates, upstreamName: "dokai", nowUnixSeconds: self.now)
        #expect(
            self.text(merged) == [
                "X-RateLimit-Limit: 60",
                "X-RateLimit-Remaining: 0",
                "X-RateLimit-Reset: 1700000030",
                "RateLimit-Policy: \"dokai\";q=60, \"per_client\";q=20;w=12",
                "RateLimit: \"dokai\";r=0;t=30, \"per_client\";r=7;t=8",
            ])
    }

    @Test func anExhaustedIETFOnlyUpstreamShowsInTheXFields() {
        let upstream = self.fields([
            ("RateLimit-Policy", "\"burst\";q=10;w=1, \"day\";q=1000;w=86400"),
            ("RateLimit", "\"burst\";r=9;t=1, \"day\";r=0;t=3600"),
        ])
        let merged = RateLimitHeaders.merge(
            upstream: upstream, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now)
        #expect(
            self.text(merged) == [
                "RateLimit-Policy: \"burst\";q=10;w=1, \"day\";q=1000;w=86400, \"per_client\";q=20;w=12",
                "RateLimit: \"burst\";r=9;t=1, \"day\";r=0;t=3600, \"per_client\";r=7;t=8",
                "X-RateLimit-Limit: 1000",
                "X-RateLimit-Remaining: 0",
                "X-RateLimit-Reset: 1700003600",
            ])
        // An IETF item roomier than the gateway's bucket leaves the X- fields to the gateway.
        let roomy = self.fields([("RateLimit", "\"day\";r=500;t=3600")])
        let gatewayWins = RateLimitHeaders.merge(
            upstream: roomy, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now)
        #expect(gatewayWins[.xRateLimitRemaining] == "7")
        #expect(gatewayWins[.rateLimit] == "\"day\";r=500;t=3600, \"per_client\";r=7;t=8")
    }

    @Test func onATieTheLaterResetWinsInEitherForm() {
        // Upstream: 7 left, full in 30 s (as a delta) — later than the gateway's 8 s: kept.
        let later = self.fields([("X-RateLimit-Remaining", "7"), ("X-RateLimit-Reset", "30")])
        let keptFields = RateLimitHeaders.merge(
            upstream: later, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now)
        #expect(keptFields[fields: .xRateLimitReset].map(\.value) == ["30"])
        // Upstream: 7 left, reset as Unix time 2 s from now — sooner: the gateway's picture.
        let sooner = self.fields([("X-RateLimit-Remaining", "7"), ("X-RateLimit-Reset", "1700000002")])
        let replaced = RateLimitHeaders.merge(
            upstream: sooner, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now)
        #expect(replaced[fields: .xRateLimitReset].map(\.value) == ["1700000008"])
    }

    @Test func unreadableUpstreamRemainingIsNotReplaced() {
        let upstream = self.fields([("X-RateLimit-Remaining", "lots")])
        let merged = RateLimitHeaders.merge(
            upstream: upstream, gateway: self.gatewayStates, upstreamName: "up", nowUnixSeconds: self.now)
        #expect(merged[fields: .xRateLimitRemaining].map(\.value) == ["lots"])
        #expect(merged[.xRateLimitLimit] == nil)
        #expect(merged[.rateLimit] == "\"per_client\";r=7;t=8")
    }
}

@Suite struct RateLimitKeyResolverTests {
    let resolver = RateLimitKeyResolver(trustedProxies: [CIDRBlock("10.0.0.0/8")!, CIDRBlock("fd00::/8")!])
    let proxy: [UInt8] = [10, 1, 2, 3]
    let direct: [UInt8] = [203, 0, 113, 9]

    func headers(_ pairs: [(String, String)]) -> HTTPFields {
        HTTPFields(pairs.map { HTTPField(name: HTTPField.Name($0.0)!, value: $0.1) })
    }

    /// Without trusted proxies a dotted IPv4 peer is its own key, taken as it is written when it is written as the
    /// key would be: over random texts, canonical or not (leading zeros, out of range, too few or many parts, IPv6),
    /// the shortcut gives what parsing and formatting give.
    @Test func thePeerTextShortcutKeysAsParsingDoes() {
        let plain = RateLimitKeyResolver(trustedProxies: [])
        var generator = SplitMix64(seed: 7)
        var texts = [
            "127.0.0.1", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3.256", "1.2.3", "1.2.3.4.5", "1..2.3",
            "::1", "::ffff:1.2.3.4", "", "a.b.c.d", "1.2.3.4 ", "001.2.3.4", "1.2.3.0",
        ]
        for _ in 0..<500 {
            let parts = (0..<(3 + Int(generator.next() % 3))).map { _ -> String in
                let number = Int(generator.next() % 300)
                return generator.next() % 8 == 0 ? "0\(number)" : String(number)
            }
            texts.append(parts.joined(separator: "."))
        }
        for text in texts {
            let slow = plain.key(
                for: .clientIP, headers: HTTPFields(), routeName: "r", peer: IPAddressParser.parse(text))
            #expect(plain.key(for: .clientIP, headers: HTTPFields(), routeName: "r", peerText: text) == slow, "\(text)")
        }
        #expect(RateLimitKeyResolver.isCanonicalIPv4("198.51.100.7"))
        #expect(!RateLimitKeyResolver.isCanonicalIPv4("198.051.100.7"))
        // With trusted proxies the shortcut is not taken: a trusted peer's X-Forwarded-For still decides.
        let headers = self.headers([("X-Forwarded-For", "198.51.100.7")])
        #expect(
            self.resolver.key(for: .clientIP, headers: headers, routeName: "r", peerText: "10.1.2.3") == "198.51.100.7")
    }

    @Test func untrustedPeerIsTheClientWhateverItForwards() {
        let headers = self.headers([("X-Forwarded-For", "1.1.1.1")])
        let key = self.resolver.key(for: .clientIP, headers: headers, routeName: "r", peer: self.direct)
        #expect(key == "203.0.113.9")
    }

    @Test func trustedPeerYieldsTheRightMostUntrustedForwardedAddress() {
        let headers = self.headers([
            ("X-Forwarded-For", "6.6.6.6, 198.51.100.7"),
            ("X-Forwarded-For", "10.9.9.9"),
        ])
        #expect(self.resolver.clientIP(headers: headers, peer: self.proxy) == "198.51.100.7")
        // Only trusted hops: the left-most one.
        let allTrusted = self.headers([("X-Forwarded-For", "10.0.0.7, 10.0.0.8")])
        #expect(self.resolver.clientIP(headers: allTrusted, peer: self.proxy) == "10.0.0.7")
        // No header: the proxy itself.
        #expect(self.resolver.clientIP(headers: [:], peer: self.proxy) == "10.1.2.3")
        // Garbage stops the walk at the last trusted hop.
        let garbage = self.headers([("X-Forwarded-For", "6.6.6.6, nonsense, 10.0.0.9")])
        #expect(self.resolver.clientIP(headers: garbage, peer: self.proxy) == "10.0.0.9")
        // Ports and brackets are read; IPv4-mapped IPv6 is IPv4.
        let ported = self.headers([("X-Forwarded-For", "[2001:db8::1]:443, 192.0.2.1:8080")])
        #expect(self.resolver.clientIP(headers: ported, peer: self.proxy) == "192.0.2.1")
        let mapped = IPAddressParser.parse("::ffff:10.1.2.3")!
        let v6 = self.headers([("X-Forwarded-For", "2001:db8::1")])
        #expect(self.resolver.clientIP(headers: v6, peer: mapped) == "2001:db8:0:0:0:0:0:1")
    }

    @Test func headerKeysFallBackToTheClientIPInTheirOwnNamespace() {
        let withTenant = self.headers([("X-Tenant", "acme")])
        #expect(
            self.resolver.key(for: .header("X-Tenant"), headers: withTenant, routeName: "r", peer: self.direct)
                == "hacme"
        )
        #expect(
            self.resolver.key(for: .header("x-tenant"), headers: [:], routeName: "r", peerText: "203.0.113.9")
                == "203.0.113.9"
        )
        // A header that spells an IP address does not share that IP's bucket.
        let spoof = self.headers([("X-Tenant", "203.0.113.9")])
        #expect(
            self.resolver.key(for: .header("X-Tenant"), headers: spoof, routeName: "r", peer: self.direct)
                != self.resolver.key(for: .clientIP, headers: [:], routeName: "r", peer: self.direct)
        )
        #expect(self.resolver.key(for: .route, headers: [:], routeName: "dokstamp", peer: nil) == "rdokstamp")
        #expect(self.resolver.key(for: .global, headers: [:], routeName: "dokstamp", peer: nil) == "g")
    }
}
