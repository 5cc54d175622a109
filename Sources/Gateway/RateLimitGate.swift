import GatewayCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// The rate-limit step of a request (SPEC section 4): resolves each policy's key, asks the store for all of a
/// route's buckets at once, and turns the answer into a verdict with the headers the client sees.
struct RateLimitGate: Sendable {
    /// What the proxy does next.
    enum Verdict {
        /// Forward; `states` describe the buckets after this request (empty on a route without policies, or when
        /// the store is down and `on_failure: allow`).
        case proceed([RateLimitBucketState])
        /// Answer 429 without calling the upstream.
        case deny([RateLimitBucketState], retryAfterSeconds: Int)
        /// The store is down and `on_failure: deny`: answer 503.
        case storeUnavailable
    }

    let store: any RateLimitStore
    let metrics: GatewayMetrics

    /// - Parameter policies: the route's policies, in its order (``RoutePlan/policies``).
    func check(
        route: RouteConfiguration, policies: [RateLimitPolicy], snapshot: GatewaySnapshot, headers: HTTPHeaders,
        peerIP: String?
    ) async -> Verdict {
        guard !policies.isEmpty else { return .proceed([]) }
        // Only the fields a key can name are copied: X-Forwarded-For and the `header:NAME` of the policies, each
        // name once however many policies name it, so the key is the header as sent (SPEC section 4): copied once
        // per policy, `X-Client: p` would read "p, p" on a route with two such policies and "p" on a route with
        // one, and the routes would not share the bucket.
        var fields = HTTPFields()
        // X-Forwarded-For names the client only when the peer may be a trusted proxy; other requests need no copy.
        var readsForwardedFor = !snapshot.keyResolver.trustedProxies.isEmpty
        for policy in policies {
            guard case .header(let name) = policy.key, let fieldName = HTTPField.Name(name),
                fields[fieldName] == nil
            else { continue }
            if fieldName == .xForwardedFor { readsForwardedFor = false }  // copied here, once
            for value in headers[name] {
                fields.append(HTTPField(name: fieldName, value: value))
            }
        }
        if readsForwardedFor {
            for value in headers[HTTPField.Name.xForwardedFor.canonicalName] {
                fields.append(HTTPField(name: .xForwardedFor, value: value))
            }
        }
        let buckets = policies.map { policy in
            RateLimitBucket(
                policy: policy,
                key: snapshot.keyResolver.key(
                    for: policy.key, headers: fields, routeName: route.name, peerText: peerIP))
        }
        switch await self.store.acquire(buckets) {
        case .allowed(let states):
            for policy in policies { self.metrics.rateLimitDecision(policy: policy.name, allowed: true) }
            return .proceed(states)
        case .denied(let states, let retryAfter):
            for state in states where state.remaining == 0 {
                self.metrics.rateLimitDecision(policy: state.policy.name, allowed: false)
            }
            return .deny(states, retryAfterSeconds: RateLimitHeaders.retryAfterSeconds(retryAfter))
        case .storeUnavailable:
            switch snapshot.configuration.rateLimitStore {
            case .redis(let redis) where redis.onFailure == .deny:
                return .storeUnavailable
            case .memory, .redis:
                return .proceed([])
            }
        }
    }

    /// The rate-limit headers of a response the gateway makes (denials and envelopes).
    static func headers(_ states: [RateLimitBucketState]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        Self.addHeaders(states, to: &headers)
        return headers
    }

    /// The same fields, appended to a head being built.
    static func addHeaders(_ states: [RateLimitBucketState], to headers: inout HTTPHeaders) {
        RateLimitHeaders.render(states, nowUnixSeconds: DateHeader.unixSeconds()) { name, value in
            headers.add(name: name.rawName, value: value)
        }
    }
}
