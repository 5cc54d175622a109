import GatewayCore
import Testing

@Suite("Path rewriting")
struct PathRewriterTests {
    @Test(arguments: [
        ("/a/b", "/a/b"),
        ("/api/../secret", "/secret"),
        ("/api/a/../../secret", "/secret"),
        ("/api/%2e%2e/secret", "/secret"),
        ("/api/.%2E/secret", "/secret"),
        ("/api/./x", "/api/x"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("/api/..", "/"),
        ("/api/.", "/api/"),
        ("/api/...", "/api/..."),
        ("/api/..x/y", "/api/..x/y"),
        ("/api/%2F../x", "/api/%2F../x"),  // an encoded slash is opaque: one segment
        ("/a//b", "/a//b"),
        ("/.well-known/x", "/.well-known/x"),
    ])
    func dotSegmentsAreResolved(input: String, expected: String) {
        #expect(PathRewriter.removingDotSegments(Substring(input)) == Substring(expected))
    }

    @Test func pathsWithoutDotSegmentsAreReturnedAsTheyAre() {
        let path: Substring = "/dokstamp/certificates/550e8400"
        #expect(PathRewriter.removingDotSegments(path) == path)
    }

    @Test func splitKeepsTheQueryByteForByte() {
        let (path, query) = PathRewriter.split(target: "/a/b?x=%2F&y=+&z=")
        #expect(path == "/a/b")
        #expect(query == "x=%2F&y=+&z=")
        #expect(PathRewriter.split(target: "/a#frag?no") == ("/a", nil))
        #expect(PathRewriter.split(target: "/a?q#frag") == ("/a", "q"))
        #expect(PathRewriter.split(target: "/a?") == ("/a", ""))
        #expect(PathRewriter.split(target: "/plain") == ("/plain", nil))
        // The delimiters are bytes: a combining mark after `?` does not hide it (as a search by characters would).
        let (marked, markedQuery) = PathRewriter.split(target: "/\u{e9}?\u{301}x")
        #expect(marked.utf8.elementsEqual("/\u{e9}".utf8))
        #expect(markedQuery.map { Array($0.utf8) } == Array("\u{301}x".utf8))
    }

    @Test func stripPrefixJoinsOntoTheBasePath() {
        let upstream = UpstreamURL("https://api.example.com/v1")!
        let route = RouteConfiguration(pathPrefix: "/ex/", stripPrefix: true, upstream: "ex")
        #expect(
            PathRewriter.upstreamURL(upstream: upstream, route: route, path: "/ex/items", query: "a=1")
                == "https://api.example.com:443/v1/items?a=1")
        #expect(
            PathRewriter.upstreamURL(upstream: upstream, route: route, path: "/ex/", query: nil)
                == "https://api.example.com:443/v1/")
        let noSlash = RouteConfiguration(pathPrefix: "/ex", stripPrefix: true, upstream: "ex")
        #expect(
            PathRewriter.upstreamURL(upstream: upstream, route: noSlash, path: "/ex/items", query: nil)
                == "https://api.example.com:443/v1/items")
        #expect(
            PathRewriter.upstreamURL(upstream: upstream, route: noSlash, path: "/ex", query: "q")
                == "https://api.example.com:443/v1/?q")
        // The prefix's bytes are removed, not its characters: a combining mark after it stays (as bytes).
        let letter = RouteConfiguration(pathPrefix: "/e", stripPrefix: true, upstream: "ex")
        #expect(
            PathRewriter.upstreamURL(upstream: upstream, route: letter, path: "/e\u{301}x", query: nil).utf8
                .elementsEqual("https://api.example.com:443/v1/\u{301}x".utf8))
        let keep = RouteConfiguration(pathPrefix: "/ex/", upstream: "ex")
        #expect(
            PathRewriter.upstreamURL(upstream: upstream, route: keep, path: "/ex/items", query: nil)
                == "https://api.example.com:443/v1/ex/items")
    }

    @Test func routesMatchByPlainPrefixInOrder() throws {
        let table = RouteTable(routes: [
            RouteConfiguration(pathPrefix: "/m/", upstream: "m", methods: [.get]),
            RouteConfiguration(pathPrefix: "/", upstream: "all"),
        ])
        #expect(try table.match(path: "/m/x", method: .get).get().route.upstream == "m")
        #expect(try table.match(path: "/m", method: .get).get().route.upstream == "all")
        #expect(throws: RouteTable.Miss.methodNotAllowed(route: "/m/", allowed: [.get])) {
            try table.match(path: "/m/x", method: .post).get()
        }
        #expect(throws: RouteTable.Miss.noRoute) {
            try RouteTable(routes: []).match(path: "/", method: .get).get()
        }
    }
}
