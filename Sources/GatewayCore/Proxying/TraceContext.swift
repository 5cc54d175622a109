public import HTTPTypes

/// A request's W3C trace context (https://www.w3.org/TR/trace-context/): the trace it belongs to, taken from the
/// client's `traceparent` or started here, and the sampling flag.
///
/// The gateway is one hop of the trace: each try at the upstream is a span of its own, so every try sends
/// `traceparent` with the same trace id and a new parent (span) id. `tracestate` travels unchanged with a continued
/// trace and is dropped when the gateway had to start a new one (section 3.3.1: without a valid `traceparent`, the
/// `tracestate` cannot be interpreted).
public struct TraceContext: Sendable, Hashable {
    /// The 16-byte trace id as two big-endian halves; never both zero.
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    /// The client's span id when the trace was continued; nil when it started here.
    public var clientSpanID: UInt64?
    /// `trace-flags`: bit 0 is "sampled".
    public var flags: UInt8

    public static let traceparent = HTTPField.Name("traceparent")!
    public static let tracestate = HTTPField.Name("tracestate")!

    public init(traceIDHigh: UInt64, traceIDLow: UInt64, clientSpanID: UInt64? = nil, flags: UInt8) {
        self.traceIDHigh = traceIDHigh
        self.traceIDLow = traceIDLow
        self.clientSpanID = clientSpanID
        self.flags = flags
    }

    /// Whether the trace came from the client.
    public var isContinued: Bool { self.clientSpanID != nil }

    public var isSampled: Bool { self.flags & 1 == 1 }

    /// The trace id as 32 lowercase hex digits, as the access log and `traceparent` write it.
    public var traceIDHex: String {
        String(unsafeUninitializedCapacity: 32) { buffer in
            Self.writeHex(self.traceIDHigh, digits: 16, into: buffer, at: 0)
            Self.writeHex(self.traceIDLow, digits: 16, into: buffer, at: 16)
            return 32
        }
    }

    /// The `traceparent` value for one span of this trace: `00-<trace id>-<span id>-<flags>`.
    ///
    /// Written into one string (it is made for every try of every request).
    public func traceparent(spanID: UInt64) -> String {
        String(unsafeUninitializedCapacity: 55) { buffer in
            buffer[0] = UInt8(ascii: "0")
            buffer[1] = UInt8(ascii: "0")
            buffer[2] = UInt8(ascii: "-")
            Self.writeHex(self.traceIDHigh, digits: 16, into: buffer, at: 3)
            Self.writeHex(self.traceIDLow, digits: 16, into: buffer, at: 19)
            buffer[35] = UInt8(ascii: "-")
            Self.writeHex(spanID, digits: 16, into: buffer, at: 36)
            buffer[52] = UInt8(ascii: "-")
            Self.writeHex(UInt64(self.flags), digits: 2, into: buffer, at: 53)
            return 55
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `value`'s lowest `digits` hex digits, lowercase and zero-padded, at `offset`.
    private static func writeHex(
        _ value: UInt64, digits: Int, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int
    ) {
        var rest = value
        for index in stride(from: offset + digits - 1, through: offset, by: -1) {
            buffer[index] = Self.hexDigits[Int(rest & 0xF)]
            rest >>= 4
        }
    }

    /// The context of a request: the client's when its `traceparent` is valid, else a new trace, sampled with
    /// probability `sampleRatio`.
    ///
    /// - Parameter traceparents: every `traceparent` field of the request (more than one is invalid, section 3.2).
    public static func incoming<Random: RandomNumberGenerator>(
        traceparents: [String], sampleRatio: Double, using random: inout Random
    ) -> TraceContext {
        if traceparents.count == 1, let parsed = Self.parse(traceparents[0]) { return parsed }
        var high: UInt64 = 0
        var low: UInt64 = 0
        while high == 0 && low == 0 {
            high = random.next()
            low = random.next()
        }
        let sampled = sampleRatio >= 1 || (sampleRatio > 0 && Double.random(in: 0..<1, using: &random) < sampleRatio)
        return TraceContext(traceIDHigh: high, traceIDLow: low, flags: sampled ? 1 : 0)
    }

    /// A new span id: 8 random bytes, never all zero.
    public static func newSpanID<Random: RandomNumberGenerator>(using random: inout Random) -> UInt64 {
        var id: UInt64 = 0
        while id == 0 { id = random.next() }
        return id
    }

    /// Parses a `traceparent` value (section 3.2): `version-traceid-parentid-flags`, lowercase hex. Version `ff`
    /// is invalid; version `00` is exactly 55 characters; a later version may append `-` and more (section 4.3),
    /// and its first four fields are read as version 00's. An all-zero trace id or parent id is invalid.
    public static func parse(_ value: String) -> TraceContext? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 55 else { return nil }
        guard let version = Self.parseHex(bytes[0..<2]), version != 0xff else { return nil }
        if version == 0 {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55 {
            guard bytes[55] == UInt8(ascii: "-") else { return nil }
        }
        guard bytes[2] == UInt8(ascii: "-"), bytes[35] == UInt8(ascii: "-"), bytes[52] == UInt8(ascii: "-"),
            let high = Self.parseHex(bytes[3..<19]), let low = Self.parseHex(bytes[19..<35]),
            let span = Self.parseHex(bytes[36..<52]), let flags = Self.parseHex(bytes[53..<55]),
            high != 0 || low != 0, span != 0
        else { return nil }
        return TraceContext(traceIDHigh: high, traceIDLow: low, clientSpanID: span, flags: UInt8(flags))
    }

    private static func parseHex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var value: UInt64 = 0
        for digit in digits {
            let nibble: UInt8
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = digit - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }
}

extension UpstreamRequest {
    /// Readies the request for its next try: with a trace context, `traceparent` names a new span (this try), and a
    /// `tracestate` the client sent without a valid `traceparent` is not passed on.
    public mutating func beginTry<Random: RandomNumberGenerator>(using random: inout Random) {
        guard let trace = self.trace else { return }
        // Fields are found by a scan, not by name: a lookup by name would build the fields' name index per try.
        let traceparent = HTTPField(
            name: TraceContext.traceparent, value: trace.traceparent(spanID: TraceContext.newSpanID(using: &random)))
        if let first = self.headers.firstIndex(where: { $0.name == TraceContext.traceparent }) {
            let after = self.headers[self.headers.index(after: first)...]
            if after.contains(where: { $0.name == TraceContext.traceparent }) {
                self.headers[TraceContext.traceparent] = traceparent.value  // one replaces them all
            } else {
                self.headers[first] = traceparent
            }
        } else {
            self.headers.append(traceparent)
        }
        if !trace.isContinued, self.headers.contains(where: { $0.name == TraceContext.tracestate }) {
            self.headers[TraceContext.tracestate] = nil
        }
    }
}
