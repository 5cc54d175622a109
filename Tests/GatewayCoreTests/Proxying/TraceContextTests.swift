import GatewayCore
import GatewayTestSupport
import HTTPTypes
import Testing

/// W3C Trace Context, level 1: parsing `traceparent`, starting traces, a span per try.
@Suite struct TraceContextTests {
    static let example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func theSpecificationsExampleParses() throws {
        let trace = try #require(TraceContext.parse(Self.example))
        #expect(trace.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.clientSpanID == 0x00f0_67aa_0ba9_02b7)
        #expect(trace.isSampled)
        #expect(trace.isContinued)
        #expect(trace.traceparent(spanID: 0xab) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00000000000000ab-01")
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",  // short
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 is exactly 55
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff is invalid
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // separator
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // not hex
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // a later version's extra needs a dash
    ])
    func invalidValuesAreRefused(_ value: String) {
        #expect(TraceContext.parse(value) == nil)
    }

    @Test func aLaterVersionIsReadAsVersion00() throws {
        let trace = try #require(TraceContext.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future"))
        #expect(trace.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(!trace.isSampled)
    }

    @Test func aRequestWithoutAValidTraceparentStartsANewTrace() {
        var random = SplitMix64(seed: 7)
        let fresh = TraceContext.incoming(traceparents: [], sampleRatio: 1, using: &random)
        #expect(!fresh.isContinued)
        #expect(fresh.isSampled)
        #expect(fresh.traceIDHex.count == 32)
        #expect(fresh.traceIDHex != String(repeating: "0", count: 32))
        let other = TraceContext.incoming(traceparents: ["garbage"], sampleRatio: 0, using: &random)
        #expect(other.traceIDHex != fresh.traceIDHex)
        #expect(!other.isSampled)
        // Two traceparent fields are invalid (section 3.2).
        let twice = TraceContext.incoming(traceparents: [Self.example, Self.example], sampleRatio: 0, using: &random)
        #expect(!twice.isContinued)
        let continued = TraceContext.incoming(traceparents: [Self.example], sampleRatio: 0, using: &random)
        #expect(continued.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(continued.isSampled, "the client's flag is kept")
    }

    @Test func theSampleRatioIsApproximatelyKept() {
        var random = SplitMix64(seed: 11)
        let sampled = (0..<10_000).filter { _ in
            TraceContext.incoming(traceparents: [], sampleRatio: 0.25, using: &random).isSampled
        }.count
        #expect((2_200...2_800).contains(sampled))
    }

    @Test func eachTryHasASpanOfItsOwnAndAContinuedTraceKeepsItsState() throws {
        var random = SplitMix64(seed: 3)
        var headers = HTTPFields()
        headers[TraceContext.tracestate] = "vendor=abc"
        var request = UpstreamRequest(
            method: .get, url: "http://x/", headers: headers, trace: TraceContext.parse(Self.example))
        request.beginTry(using: &random)
        let first = try #require(request.headers[TraceContext.traceparent])
        request.beginTry(using: &random)
        let second = try #require(request.headers[TraceContext.traceparent])
        #expect(first != second)
        #expect(first.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-") && first.hasSuffix("-01"))
        #expect(TraceContext.parse(second)?.traceIDHex == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(request.headers[TraceContext.tracestate] == "vendor=abc")
        #expect(request.headers[values: TraceContext.traceparent].count == 1)

        // A client's traceparent keeps its place, and several become one.
        var client = HTTPFields()
        client[TraceContext.traceparent] = Self.example
        client[.accept] = "*/*"
        var forwarded = UpstreamRequest(
            method: .get, url: "http://x/", headers: client, trace: TraceContext.parse(Self.example))
        forwarded.beginTry(using: &random)
        #expect(forwarded.headers.map(\.name) == [TraceContext.traceparent, .accept])
        #expect(forwarded.headers[TraceContext.traceparent] != Self.example)
        client.append(HTTPField(name: TraceContext.traceparent, value: Self.example))
        var doubled = UpstreamRequest(
            method: .get, url: "http://x/", headers: client, trace: TraceContext.parse(Self.example))
        doubled.beginTry(using: &random)
        #expect(doubled.headers[values: TraceContext.traceparent].count == 1)

        // A new trace: the client's tracestate cannot be read without its traceparent, so it is dropped.
        var fresh = UpstreamRequest(
            method: .get, url: "http://x/", headers: headers,
            trace: TraceContext.incoming(traceparents: [], sampleRatio: 1, using: &random))
        fresh.beginTry(using: &random)
        #expect(fresh.headers[TraceContext.tracestate] == nil)
        #expect(fresh.headers[TraceContext.traceparent].flatMap(TraceContext.parse) != nil)
    }
}
