import GatewayCore
import GatewayTestSupport
import HTTPTypes
import Testing

@Suite("Hop-by-hop header policy and request ids")
struct HeaderPolicyTests {
    func fields(_ pairs: [(String, String)]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        return fields
    }

    /// What the proxy forwards of `fields`, either way: the fields that are not hop-by-hop.
    func forwarded(_ fields: HTTPFields) -> HTTPFields {
        let options = HopByHopHeaders.connectionOptions(in: fields)
        return HTTPFields(fields.filter { !HopByHopHeaders.isHopByHop($0.name, connectionOptions: options) })
    }

    @Test func removesTheFixedSetAndWhatConnectionNames() {
        let fields = self.fields([
            ("Connection", "keep-alive, X-Secret , x-other"), ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "x"),
            ("TE", "trailers"), ("Trailer", "X"), ("Transfer-Encoding", "chunked"), ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic x"), ("Proxy-Authenticate", "Basic"), ("X-Secret", "1"), ("X-Other", "2"),
            ("Accept", "application/json"), ("Authorization", "Bearer t"),
        ])
        #expect(self.forwarded(fields).map(\.name.canonicalName) == ["accept", "authorization"])
    }

    @Test func connectionOptionsAreTheFieldNamesListed() {
        let names = HopByHopHeaders.connectionOptions([
            "Keep-Alive, X-Secret ,x-other", "close", " CLOSE,TE", ",,", "\tX-Tab\t,keep-alivE", "", "closer",
        ])
        #expect(names.map(\.canonicalName) == ["x-secret", "x-other", "te", "x-tab", "closer"])
        let fields = self.fields([("Connection", "keep-alive"), ("Accept", "*/*"), ("connection", "X-A")])
        #expect(HopByHopHeaders.connectionOptions(in: fields).map(\.canonicalName) == ["x-a"])
        #expect(HopByHopHeaders.isHopByHop(HTTPField.Name("X-A")!, connectionOptions: [HTTPField.Name("x-a")!]))
        #expect(HopByHopHeaders.isHopByHop(.upgrade, connectionOptions: []))
        #expect(!HopByHopHeaders.isHopByHop(.accept, connectionOptions: [HTTPField.Name("x-a")!]))
    }

    @Test func theFixedSetIsToldWithoutHashing() {
        #expect(
            HopByHopHeaders.alwaysRemoved.map(\.canonicalName).sorted() == [
                "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
                "trailer", "transfer-encoding", "upgrade",
            ])
        for name in HopByHopHeaders.alwaysRemoved {
            #expect(HopByHopHeaders.isAlwaysRemoved(name), "\(name)")
        }
        #expect(HopByHopHeaders.isAlwaysRemoved(HTTPField.Name("PROXY-Connection")!))
        for name in ["Accept", "Connections", "TE2", "Upgrade-Insecure-Requests", "Via", "Host", "Proxy"] {
            #expect(!HopByHopHeaders.isAlwaysRemoved(HTTPField.Name(name)!), "\(name)")
        }
    }

    @Test func leavesEndToEndHeadersUntouched() {
        let fields = self.fields([("Accept", "*/*"), ("Content-Type", "application/json")])
        #expect(self.forwarded(fields) == fields)
    }

    @Test(arguments: [
        ("01JD3Q2J6V8M4W1N0A9C7T5B2E", true), ("a", true), ("abc.DEF_1:2-3", true),
        ("", false), (String(repeating: "a", count: 129), false), (String(repeating: "a", count: 128), true),
        ("has space", false), ("semi;colon", false), ("é", false), ("line\nbreak", false),
    ])
    func incomingRequestIDsAreKeptOnlyWhenSane(value: String, kept: Bool) {
        #expect(RequestID.isAcceptable(value) == kept)
    }

    @Test func newRequestIDsAreULIDShapedSortedByTimeAndDistinct() {
        var random = SplitMix64(seed: 7)
        let first = RequestID.make(unixMilliseconds: 1_700_000_000_000, using: &random)
        let second = RequestID.make(unixMilliseconds: 1_700_000_000_001, using: &random)
        let sameTime = RequestID.make(unixMilliseconds: 1_700_000_000_001, using: &random)
        #expect(first.count == 26)
        #expect(RequestID.isAcceptable(first))
        #expect(first < second)
        #expect(second != sameTime)
        #expect(second.prefix(10) == sameTime.prefix(10))
        #expect(first.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains($0) })
    }

    /// `value(of:)`, the request path's scan, answers what the name subscript answers, for every name, over random
    /// lists of fields with repeats and `Cookie` (joined with `; `).
    @Test func valueOfIsTheSubscriptsAnswer() {
        let names = ["Content-Type", "content-encoding", "Retry-After", "Cookie", "X-A", "x-a", "X-RateLimit-Reset"]
            .map { HTTPField.Name($0)! }
        var generator = SplitMix64(seed: 11)
        for _ in 0..<300 {
            var fields = HTTPFields()
            for index in 0..<Int(generator.next() % 8) {
                let name = names[Int(generator.next() % UInt64(names.count))]
                fields.append(HTTPField(name: name, value: generator.next() % 4 == 0 ? "" : "v\(index)"))
            }
            for name in names {
                #expect(fields.value(of: name) == fields[name], "\(name) in \(fields)")
            }
        }
    }
}
