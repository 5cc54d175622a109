/// Every key the loader accepts, as dotted paths: the list `docs/configuration.md` is checked against.
///
/// The paths are assembled from the same key lists the section readers pass to `ConfigNode.mapping(allowedKeys:)`,
/// so a key cannot be accepted without appearing here, nor listed here without being accepted. Levels whose keys
/// the user chooses are written `<name>` (an upstream, a rate-limit policy); `routes[]` is any item of `routes`.
/// Keys inside user-chosen mappings (`codes`, `headers.set`) are not listed: any name is accepted there.
public enum ConfigSchema {
    /// Every accepted key path, parents before their children, in the order the sections are read.
    public static let keyPaths: [String] = [
        GatewayConfigurationReader.keys,
        under("server", ServerSection.keys),
        under("server.tls", ServerSection.tlsKeys),
        under("server.tracing", ServerSection.tracingKeys),
        under("errors", ServerSection.errorsKeys),
        under("rate_limit_store", RateLimitSection.storeKeys),
        under("rate_limits.<name>", RateLimitSection.policyKeys),
        under("upstreams.<name>", UpstreamSection.keys),
        under("upstreams.<name>.dialect", UpstreamSection.dialectKeys),
        under("upstreams.<name>.timeouts", UpstreamSection.timeoutKeys),
        under("upstreams.<name>.retry", UpstreamSection.retryKeys),
        under("upstreams.<name>.retry.backoff", UpstreamSection.backoffKeys),
        under("upstreams.<name>.retry.budget", UpstreamSection.budgetKeys),
        under("upstreams.<name>.circuit_breaker", UpstreamSection.circuitBreakerKeys),
        under("upstreams.<name>.tls", UpstreamSection.tlsKeys),
        under("upstreams.<name>.headers", UpstreamSection.headerKeys),
        under("upstreams.<name>.quota_shield", EgressSection.quotaShieldKeys),
        under("routes[]", RouteSection.keys),
    ].flatMap { $0 }

    private static func under(_ parent: String, _ keys: [String]) -> [String] {
        keys.map { "\(parent).\($0)" }
    }
}
