public import HTTPTypes

/// One route (`routes[]`): which requests go to which upstream, and how.
public struct RouteConfiguration: Sendable, Equatable {
    /// Defaults to `path_prefix`; used in metrics and logs.
    public var name: String
    /// A plain prefix of the request path: `/m/` does not match `/m`.
    public var pathPrefix: String
    /// Remove `pathPrefix` (keeping a leading `/`) before joining onto the upstream's base path.
    public var stripPrefix: Bool
    /// The upstream's name.
    public var upstream: String
    /// Names of rate-limit policies, all checked and consumed atomically.
    public var rateLimits: [String]
    /// Allowed methods; nil allows all.
    public var methods: Set<HTTPRequest.Method>?

    public init(
        name: String? = nil, pathPrefix: String, stripPrefix: Bool = false, upstream: String,
        rateLimits: [String] = [], methods: Set<HTTPRequest.Method>? = nil
    ) {
        self.name = name ?? pathPrefix
        self.pathPrefix = pathPrefix
        self.stripPrefix = stripPrefix
        self.upstream = upstream
        self.rateLimits = rateLimits
        self.methods = methods
    }
}
