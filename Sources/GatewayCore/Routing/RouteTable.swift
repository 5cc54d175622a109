public import HTTPTypes

/// The routes of one configuration, ready to match request paths (first match wins, SPEC section 5).
public struct RouteTable: Sendable {
    /// A matched route and the upstream path the request goes to.
    public struct Match: Sendable {
        public var route: RouteConfiguration
        /// Index of the route in the table, for per-route state.
        public var index: Int
    }

    /// Why no route serves a request.
    public enum Miss: Error, Sendable, Equatable {
        /// No `path_prefix` matches: 404.
        case noRoute
        /// A route matches, but not with this method: 405 with these methods in `Allow`.
        case methodNotAllowed(route: String, allowed: [HTTPRequest.Method])
    }

    public let routes: [RouteConfiguration]

    public init(routes: [RouteConfiguration]) {
        self.routes = routes
    }

    /// The first route whose `path_prefix` is a prefix of `path` (the path without its query).
    public func match(path: Substring, method: HTTPRequest.Method) -> Result<Match, Miss> {
        for (index, route) in self.routes.enumerated() where path.hasPrefix(route.pathPrefix) {
            if let methods = route.methods, !methods.contains(method) {
                return .failure(.methodNotAllowed(route: route.name, allowed: methods.sorted { $0.rawValue < $1.rawValue }))
            }
            return .success(Match(route: route, index: index))
        }
        return .failure(.noRoute)
    }
}

/// Turns a client's request target into the upstream's, per route and upstream URL.
public enum PathRewriter {
    /// Splits a request target (origin-form) into path and query; the query keeps its exact bytes, `?` excluded.
    public static func split(target: String) -> (path: Substring, query: Substring?) {
        var target = Substring(target)
        if let hash = target.firstIndex(of: "#") { target = target[..<hash] }
        guard let question = target.firstIndex(of: "?") else { return (target, nil) }
        return (target[..<question], target[target.index(after: question)...])
    }

    /// The upstream URL for a request: base path + (the path, without the route prefix when stripped) + query.
    ///
    /// Stripping `/dokstamp/` from `/dokstamp/certificates` leaves `/certificates`: the remainder always starts
    /// with `/`, so a base path `/v1` joins to `/v1/certificates`.
    public static func upstreamURL(
        upstream: UpstreamURL, route: RouteConfiguration, path: Substring, query: Substring?
    ) -> String {
        var remainder = path
        if route.stripPrefix {
            remainder = path.dropFirst(route.pathPrefix.count)
            if route.pathPrefix.hasSuffix("/") || remainder.isEmpty || !remainder.hasPrefix("/") {
                // The prefix ate the separating slash (`/m/`), or nothing is left: keep the path absolute.
                if !remainder.hasPrefix("/") {
                    remainder = "/" + remainder
                }
            }
        }
        var url = upstream.origin
        url.reserveCapacity(url.utf8.count + upstream.basePath.utf8.count + remainder.utf8.count + (query?.utf8.count ?? 0) + 1)
        url += upstream.basePath
        url += remainder
        if let query {
            url += "?"
            url += query
        }
        return url
    }
}
