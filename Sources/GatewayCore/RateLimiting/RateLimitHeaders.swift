public import HTTPTypes

/// The rate-limit headers of SPEC section 4, as pure functions of bucket states: what the gateway adds to every
/// response of a route with policies, and how it combines them with an upstream's own rate-limit headers.
///
/// - `X-RateLimit-Limit` / `-Remaining` / `-Reset`: the most restrictive bucket's capacity, whole tokens left,
///   and the Unix time (seconds, rounded up) at which it is full again.
/// - `RateLimit-Policy: "per_client";q=20;w=12, …`: every policy (q = burst, w = seconds to refill a whole
///   bucket, rounded up, at least 1), draft-ietf-httpapi-ratelimit-headers syntax.
/// - `RateLimit: "per_client";r=0;t=12`: the most restrictive bucket (r = tokens left, t = seconds until full,
///   rounded up).
///
/// "Most restrictive" is the bucket with the fewest tokens left; on a tie, the one that takes longer to be full
/// again (then the one with the longer whole-bucket refill, then the first).
public enum RateLimitHeaders {
    /// The headers for `states` (one per policy of the route, in the route's order). Empty for no states.
    public static func render(_ states: [RateLimitBucketState], nowUnixSeconds: Int) -> [HTTPField] {
        var fields: [HTTPField] = []
        fields.reserveCapacity(5)
        self.render(states, nowUnixSeconds: nowUnixSeconds) { name, value in
            fields.append(HTTPField(name: name, value: value))
        }
        return fields
    }

    /// The same fields, in the same order, handed to `field` one by one: for a caller that writes them into a head
    /// of another type, without building `HTTPField`s first.
    public static func render(
        _ states: [RateLimitBucketState], nowUnixSeconds: Int, into field: (HTTPField.Name, String) -> Void
    ) {
        guard let index = self.mostRestrictiveIndex(states) else { return }
        let state = states[index]
        self.xRateLimitFields(state, nowUnixSeconds: nowUnixSeconds, into: field)
        field(.rateLimitPolicy, self.policyList(states))
        field(.rateLimit, self.rateLimitItem(state))
    }

    /// `Retry-After` (and `retry_after`) of a denial: whole seconds until one token is back, rounded up, at least 1.
    public static func retryAfterSeconds(_ retryAfter: Duration) -> Int {
        RetryHint.headerSeconds(for: retryAfter)
    }

    /// An upstream response's headers with the gateway's rate-limit picture added, never looser than the
    /// upstream's own (SPEC section 4), in either header form.
    ///
    /// - With no gateway states (a route without policies) the upstream's fields pass untouched.
    /// - The upstream's tightest limit is read from both forms: `X-RateLimit-Remaining` (any case, e.g. GitHub's
    ///   `x-ratelimit-*`) and the items of its IETF `RateLimit` field (the one with the fewest `r`).
    /// - `X-RateLimit-*`: the upstream's picture stays when it has fewer remaining than the gateway's bucket, or
    ///   as many with a reset (Unix time or seconds from now) at least as late, or is unreadable (what cannot be
    ///   compared is not replaced). When that picture came from the IETF items only, the `X-` triple is written from
    ///   it (limit = the item's `q` in `RateLimit-Policy`, reset = now + `t`). Otherwise the gateway's triple
    ///   replaces the upstream's.
    /// - `RateLimit-Policy` / `RateLimit`: the upstream's items are kept and the gateway's appended. An upstream
    ///   that sent only `X-RateLimit-*` gets an item of its own first, named `upstreamName`
    ///   (`"dokai";r=0;t=30`, `"dokai";q=60`), so the IETF fields never show the gateway's roomier bucket alone.
    /// - Everything else (`X-Quota-*`, `Retry-After`, older IETF `RateLimit-Limit/-Remaining/-Reset`) is untouched.
    public static func merge(
        upstream: HTTPFields, gateway: [RateLimitBucketState], upstreamName: String, nowUnixSeconds: Int
    ) -> HTTPFields {
        guard let index = self.mostRestrictiveIndex(gateway) else { return upstream }
        let state = gateway[index]
        var fields = upstream
        guard Self.hasRateLimitFields(upstream) else {
            // Most upstreams send none: nothing to compare or keep, the gateway's fields are appended as they are.
            fields.append(contentsOf: self.render(gateway, nowUnixSeconds: nowUnixSeconds))
            return fields
        }
        let ietf = self.tightestItem(upstream)
        let xRemainingText = upstream.value(of: .xRateLimitRemaining)
        let xRemaining = xRemainingText.flatMap { Int(Substring($0).trimmingASCIIWhitespace()) }
        let xReset = upstream.value(of: .xRateLimitReset).flatMap {
            RetryHint.reset($0, nowUnixSeconds: nowUnixSeconds)
        }

        // The upstream's tightest picture: its X- triple, or its IETF item when that says fewer remain.
        var upstreamRemaining = xRemaining
        var upstreamReset = xReset
        var fromIETF = false
        if let ietf, xRemainingText == nil || (xRemaining.map { ietf.remaining < $0 } ?? false) {
            (upstreamRemaining, upstreamReset, fromIETF) = (ietf.remaining, ietf.reset, true)
        }
        var keepUpstream = false
        if let remaining = upstreamRemaining {
            if remaining < state.remaining {
                keepUpstream = true
            } else if remaining == state.remaining {
                keepUpstream = (upstreamReset ?? 0) >= self.secondsRoundedUp(state.resetAfter)
            }
        } else if xRemainingText != nil {
            keepUpstream = true
        }
        if !keepUpstream || fromIETF {
            // One pass, and none at all when the upstream sent no X- field (most upstreams, every gateway-only route).
            fields.removeAll {
                $0.name == .xRateLimitLimit || $0.name == .xRateLimitRemaining || $0.name == .xRateLimitReset
            }
        }
        if !keepUpstream {
            self.appendXRateLimitFields(state, nowUnixSeconds: nowUnixSeconds, to: &fields)
        } else if fromIETF, let ietf {
            if let limit = ietf.limit { fields.append(HTTPField(name: .xRateLimitLimit, value: String(limit))) }
            fields.append(HTTPField(name: .xRateLimitRemaining, value: String(ietf.remaining)))
            if let reset = ietf.reset {
                fields.append(HTTPField(name: .xRateLimitReset, value: String(nowUnixSeconds + reset)))
            }
        }

        if ietf == nil, let xRemaining {
            // An upstream limit known only from X- fields becomes an IETF item of its own.
            let name = self.quoted(upstreamName)
            let limit = upstream.value(of: .xRateLimitLimit).flatMap { Int(Substring($0).trimmingASCIIWhitespace()) }
            if let limit { self.appendItems("\(name);q=\(limit)", to: .rateLimitPolicy, in: &fields) }
            self.appendItems(
                "\(name);r=\(max(0, xRemaining))" + (xReset.map { ";t=\($0)" } ?? ""), to: .rateLimit,
                in: &fields)
        }
        self.appendItems(self.policyList(gateway), to: .rateLimitPolicy, in: &fields)
        self.appendItems(self.rateLimitItem(state), to: .rateLimit, in: &fields)
        return fields
    }

    /// Whether `fields` hold anything `merge` would read or rewrite (see ``isRateLimitField(_:)``). Without, `merge`
    /// only appends ``render(_:nowUnixSeconds:)``'s fields, so a caller may add those to its own head instead.
    public static func hasRateLimitFields(_ fields: HTTPFields) -> Bool {
        fields.contains { Self.isRateLimitField($0.name) }
    }

    /// Whether `merge` reads or rewrites a field of this name: `X-RateLimit-*` and the IETF `RateLimit*` fields (the
    /// older `RateLimit-Limit`/`-Remaining`/`-Reset` included, which it leaves alone: telling them apart costs more
    /// than the general path they then take).
    public static func isRateLimitField(_ name: HTTPField.Name) -> Bool {
        let canonical = name.canonicalName.utf8
        switch canonical.first {
        case UInt8(ascii: "x"): return canonical.starts(with: "x-ratelimit-".utf8)
        case UInt8(ascii: "r"): return canonical.starts(with: "ratelimit".utf8)
        default: return false
        }
    }

    /// The upstream's IETF `RateLimit` item with the fewest tokens left (ties: the later reset), with the `q` of the
    /// `RateLimit-Policy` item of the same name when there is one. Nil when there is no readable item.
    static func tightestItem(_ fields: HTTPFields) -> (remaining: Int, reset: Int?, limit: Int?)? {
        var best: (name: Substring, remaining: Int, reset: Int?)?
        for field in fields where field.name == .rateLimit {
            for item in field.value.split(separator: ",") {
                let parameters = self.parameters(of: item)
                guard let remaining = parameters.values["r"] else { continue }
                let reset = parameters.values["t"]
                if let current = best,
                    remaining > current.remaining
                        || (remaining == current.remaining && (reset ?? 0) <= (current.reset ?? 0))
                {
                    continue
                }
                best = (parameters.name, remaining, reset)
            }
        }
        guard let best else { return nil }
        var limit: Int?
        for field in fields where field.name == .rateLimitPolicy {
            for item in field.value.split(separator: ",") {
                let parameters = self.parameters(of: item)
                if parameters.name == best.name, let quota = parameters.values["q"] { limit = quota }
            }
        }
        return (best.remaining, best.reset, limit)
    }

    /// An item `"name";key=integer;…` of a structured-field list: its name (quotes kept) and integer parameters.
    private static func parameters(of item: Substring) -> (name: Substring, values: [Substring: Int]) {
        let parts = item.split(separator: ";")
        var values: [Substring: Int] = [:]
        for parameter in parts.dropFirst() {
            let pair = parameter.trimmingASCIIWhitespace().split(separator: "=", maxSplits: 1)
            if pair.count == 2, let number = Int(pair[1].trimmingASCIIWhitespace()), number >= 0 {
                values[pair[0]] = number
            }
        }
        return (parts.first?.trimmingASCIIWhitespace() ?? "", values)
    }

    /// The index of the most restrictive state, or nil for none.
    public static func mostRestrictiveIndex(_ states: [RateLimitBucketState]) -> Int? {
        guard var best = states.indices.first else { return nil }
        for index in states.indices.dropFirst() {
            let candidate = states[index]
            let current = states[best]
            if candidate.remaining != current.remaining {
                if candidate.remaining < current.remaining { best = index }
            } else if candidate.resetAfter != current.resetAfter {
                if candidate.resetAfter > current.resetAfter { best = index }
            } else if GCRA(policy: candidate.policy).tolerance > GCRA(policy: current.policy).tolerance {
                best = index
            }
        }
        return best
    }

    /// `w`: seconds a whole bucket of `policy` takes to refill, rounded up, at least 1.
    public static func windowSeconds(_ policy: RateLimitPolicy) -> Int {
        let nanoseconds = GCRA(policy: policy).tolerance
        return max(1, Int((nanoseconds + 999_999_999) / 1_000_000_000))
    }

    private static func appendXRateLimitFields(
        _ state: RateLimitBucketState, nowUnixSeconds: Int, to fields: inout some RangeReplaceableCollection<HTTPField>
    ) {
        self.xRateLimitFields(state, nowUnixSeconds: nowUnixSeconds) { name, value in
            fields.append(HTTPField(name: name, value: value))
        }
    }

    /// The `X-RateLimit-Limit`, `-Remaining` and `-Reset` of one bucket, in that order.
    private static func xRateLimitFields(
        _ state: RateLimitBucketState, nowUnixSeconds: Int, into field: (HTTPField.Name, String) -> Void
    ) {
        field(.xRateLimitLimit, String(state.policy.burst))
        field(.xRateLimitRemaining, String(max(0, state.remaining)))
        field(.xRateLimitReset, String(nowUnixSeconds + self.secondsRoundedUp(state.resetAfter)))
    }

    // The values below are written on every response of a route with policies: appended piece by piece, not
    // interpolated (an interpolation builds and copies a string per piece).

    private static func policyList(_ states: [RateLimitBucketState]) -> String {
        if states.count == 1 { return states[0].policy.policyItem }  // most routes: the policy's own text
        var value = ""
        value.reserveCapacity(states.count * 40)
        for (index, state) in states.enumerated() {
            if index > 0 { value += ", " }
            value += state.policy.policyItem
        }
        return value
    }

    /// `policy`'s item of `RateLimit-Policy`, made once per policy (``RateLimitPolicy/policyItem``).
    static func policyItem(_ policy: RateLimitPolicy) -> String {
        var value = self.quoted(policy.name)
        value += ";q="
        value += String(policy.burst)
        value += ";w="
        value += String(self.windowSeconds(policy))
        return value
    }

    private static func rateLimitItem(_ state: RateLimitBucketState) -> String {
        var value = state.policy.quotedName
        value += ";r="
        value += String(max(0, state.remaining))
        value += ";t="
        value += String(self.secondsRoundedUp(state.resetAfter))
        return value
    }

    private static func appendItems(_ items: String, to name: HTTPField.Name, in fields: inout HTTPFields) {
        guard fields.contains(where: { $0.name == name }) else {
            fields.append(HTTPField(name: name, value: items))  // what the join below makes of no field
            return
        }
        let existing = fields[fields: name].map(\.value).filter { !$0.isEmpty }
        fields[name] = (existing + [items]).joined(separator: ", ")
    }

    /// A structured-field string (RFC 9651 section 3.3.3): `"` and `\` escaped.
    static func quoted(_ name: String) -> String {
        if !name.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + name + "\""  // policy names are plain: nothing to escape
        }
        var result = "\""
        for character in name {
            if character == "\"" || character == "\\" { result.append("\\") }
            result.append(character)
        }
        result.append("\"")
        return result
    }

    static func secondsRoundedUp(_ duration: Duration) -> Int {
        let nanoseconds = max(0, GCRA.nanoseconds(duration))
        return Int((nanoseconds + 999_999_999) / 1_000_000_000)
    }
}
