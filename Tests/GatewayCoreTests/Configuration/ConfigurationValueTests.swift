import GatewayCore
import Testing

@Suite("Configuration values")
struct ConfigurationValueTests {
    @Test func upstreamURLs() throws {
        let url = try #require(UpstreamURL("https://api.example.com/v1/"))
        #expect(url.port == 443)
        #expect(url.basePath == "/v1")
        #expect(url.authority == "api.example.com")
        let v6 = try #require(UpstreamURL("http://[::1]:8080"))
        #expect(v6.host == "::1")
        #expect(v6.authority == "[::1]:8080")
        #expect(v6.origin == "http://[::1]:8080")
        // Origin and authority follow a changed part.
        var changed = url
        changed.port = 8443
        #expect(changed.authority == "api.example.com:8443")
        #expect(changed.origin == "https://api.example.com:8443")
        changed.scheme = .http
        changed.host = "::2"
        #expect(changed.origin == "http://[::2]:8443")
        changed.port = 80
        #expect(changed.authority == "[::2]")
        #expect(UpstreamURL("ftp://x") == nil)
        #expect(UpstreamURL("http://user@x") == nil)
        #expect(UpstreamURL("http://x?q") == nil)
        #expect(UpstreamURL("http://x:70000") == nil)
    }

    @Test func cidrBlocks() throws {
        let block = try #require(CIDRBlock("10.0.0.0/8"))
        #expect(block.contains([10, 1, 2, 3]))
        #expect(!block.contains([11, 0, 0, 1]))
        // An IPv4-mapped IPv6 peer counts as IPv4.
        #expect(block.contains([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 9, 9, 9]))
        let v6 = try #require(CIDRBlock("fd00::/8"))
        #expect(v6.contains(IPAddressParser.parse("fd12::1")!))
        #expect(!v6.contains(IPAddressParser.parse("fe80::1")!))
        #expect(CIDRBlock("10.0.0.0/33") == nil)
        #expect(CIDRBlock("300.0.0.1") == nil)
        #expect(CIDRBlock("127.0.0.1")?.prefixLength == 32)
    }
}
