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
        // A plain byte prefix (SPEC section 5), compared as UTF-8 without Unicode normalization.
        for index in self.routes.indices where path.utf8.starts(with: self.routes[index].pathPrefix.utf8) {
            let route = self.routes[index]
            if let methods = route.methods, !methods.contains(method) {
                return .failure(
                    .methodNotAllowed(route: route.name, allowed: methods.sorted { $0.rawValue < $1.rawValue }))
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
        // By bytes, as the target's syntax is (RFC 3986): a search by characters walks grapheme clusters, and would
        // miss a `?` that a combining mark follows.
        var target = Substring(target)
        if let hash = target.utf8.firstIndex(of: UInt8(ascii: "#")) { target = target[..<hash] }
        guard let question = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return (target, nil) }
        return (target[..<question], target[target.utf8.index(after: question)...])
    }

    /// The path with its dot segments resolved (RFC 3986 section 5.2.4), reading `%2e`/`%2E` as `.`, so that a
    /// client can neither route around a `path_prefix` nor climb out of an upstream's base path: `/api/../secret`
    /// routes as `/secret`, and `/api/%2e%2e/x` as `/x`. `..` above the root stays at the root. Anything else is kept
    /// byte for byte (percent-encoded slashes stay opaque); a path without dot segments is returned as it is.
    public static func removingDotSegments(_ path: Substring) -> Substring {
        guard Self.mayHaveDotSegments(path.utf8) else { return path }
        var output: [Substring] = []
        var segments = path.split(separator: "/", omittingEmptySubsequences: false)[...]
        if path.hasPrefix("/") { segments = segments.dropFirst() }
        var endsWithDirectory = false
        for segment in segments {
            switch Self.dotKind(segment) {
            case 1:
                endsWithDirectory = true
            case 2:
                if !output.isEmpty { output.removeLast() }
                endsWithDirectory = true
            default:
                output.append(segment)
                endsWithDirectory = false
            }
        }
        var result = "/" + output.joined(separator: "/")
        if endsWithDirectory, !result.hasSuffix("/") { result += "/" }
        return Substring(result)
    }

    /// 1 for a `.` segment, 2 for `..`, 0 otherwise (`%2e` counts as `.`).
    private static func dotKind(_ segment: Substring) -> Int {
        var utf8 = segment.utf8[...]
        var dots = 0
        while !utf8.isEmpty {
            if utf8.first == UInt8(ascii: ".") {
                utf8 = utf8.dropFirst()
            } else if utf8.count >= 3, utf8.first == UInt8(ascii: "%"),
                utf8.dropFirst().first == UInt8(ascii: "2"),
                utf8.dropFirst(2).first.map({ $0 | 0x20 }) == UInt8(ascii: "e")
            {
                utf8 = utf8.dropFirst(3)
            } else {
                return 0
            }
            dots += 1
            if dots > 2 { return 0 }
        }
        return dots
    }

    private static func mayHaveDotSegments(_ utf8: Substring.UTF8View) -> Bool {
        var previous: UInt8 = UInt8(ascii: "/")
        for byte in utf8 {
            if previous == UInt8(ascii: "/"), byte == UInt8(ascii: ".") || byte == UInt8(ascii: "%") { return true }
            previous = byte
        }
        return false
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
            // The route matched the prefix's bytes, so its bytes are what is removed (counting characters would
            // walk grapheme clusters, and could take a combining mark that follows the prefix with it).
            remainder = Substring(path.utf8.dropFirst(route.pathPrefix.utf8.count))
            if remainder.utf8.first != UInt8(ascii: "/") {
                // The prefix ate the separating slash (`/m/`), or nothing is left: keep the path absolute.
                remainder = "/" + remainder
            }
        }
        var url = upstream.origin
        url.reserveCapacity(
            url.utf8.count + upstream.basePath.utf8.count + remainder.utf8.count + (query?.utf8.count ?? 0) + 1)
        url += upstream.basePath
        url += remainder
        if let query {
            url += "?"
            url += query
        }
        return url
    }
}
