import GatewayCore
import HTTPTypes

/// Reads `routes:` (SPEC section 2) and checks what the routes refer to: upstreams and rate-limit policies.
///
/// The names to check against are nil when their section could not be read at all, so that one broken section does
/// not cascade into a problem per route.
enum RouteSection {
    static let keys = ["name", "path_prefix", "strip_prefix", "upstream", "rate_limits", "methods"]

    static func read(
        _ node: ConfigNode, upstreams: Set<String>?, policies: Set<String>?
    ) -> [RouteConfiguration] {
        guard let items = node.sequence() else { return [] }
        if items.isEmpty { node.problemAtKey("at least one route is required") }
        var routes: [RouteConfiguration] = []
        var firstByName: [String: Int] = [:]
        var earlierPrefixes: [(prefix: String, name: String, line: Int)] = []
        for item in items {
            guard let fields = item.mapping(allowedKeys: self.keys) else { continue }
            let pathNode = fields.required("path_prefix")
            let pathPrefix = pathNode?.value(expecting: "a path prefix starting with '/'") { text in
                text.hasPrefix("/") && !text.contains("?") && !text.contains("#")
                    && text.allSatisfy({ $0.isASCII && !$0.isWhitespace }) ? text : nil
            }
            let name = fields["name"]?.string()
            let stripPrefix = fields["strip_prefix"]?.bool()
            let upstreamNode = fields.required("upstream")
            let upstream = upstreamNode?.string()
            if let upstream, let upstreamNode, let upstreams, !upstreams.contains(upstream) {
                upstreamNode.problem("unknown upstream '\(upstream)'\(self.knownList(upstreams))")
            }
            var policyNames: [String] = []
            for policyNode in fields["rate_limits"]?.sequence() ?? [] {
                guard let policy = policyNode.string() else { continue }
                if let policies, !policies.contains(policy) {
                    policyNode.problem("unknown rate limit policy '\(policy)'\(self.knownList(policies))")
                }
                policyNames.append(policy)
            }
            var methods: Set<HTTPRequest.Method>?
            if let methodItems = fields["methods"]?.sequence() {
                if methodItems.isEmpty { fields["methods"]?.problem("methods must list at least one method") }
                methods = Set(
                    methodItems.compactMap { methodNode in
                        methodNode.value(expecting: "an HTTP method like GET") { HTTPRequest.Method($0.uppercased()) }
                    })
            }
            guard let pathPrefix else { continue }
            let routeName = name ?? pathPrefix
            let nameMark = fields["name"] ?? pathNode
            if let first = firstByName[routeName] {
                nameMark?.problem("duplicate route name '\(routeName)' (first at line \(first))")
            } else {
                firstByName[routeName] = nameMark?.node.mark?.line ?? 1
            }
            if let shadow = earlierPrefixes.first(where: { pathPrefix.hasPrefix($0.prefix) }) {
                pathNode?.problem(
                    "route '\(routeName)' can never match: route '\(shadow.name)' (line \(shadow.line)) has prefix "
                        + "'\(shadow.prefix)', which matches first")
            }
            earlierPrefixes.append((pathPrefix, routeName, pathNode?.node.mark?.line ?? 1))
            if let upstream {
                routes.append(
                    RouteConfiguration(
                        name: routeName, pathPrefix: pathPrefix, stripPrefix: stripPrefix ?? false, upstream: upstream,
                        rateLimits: policyNames, methods: methods))
            }
        }
        return routes
    }

    private static func knownList(_ names: Set<String>) -> String {
        names.isEmpty ? "" : " (known: \(names.sorted().joined(separator: ", ")))"
    }
}
