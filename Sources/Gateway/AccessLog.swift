import GatewayCore
import GatewayHTTPServer
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One request as the access log records it (SPEC section 2, `server.access_log`).
///
/// Only what is safe to keep: no header values (so no `Authorization`, cookies or API keys) and the path without its
/// query string, which is where clients put tokens.
public struct AccessLogRecord: Sendable, Equatable {
    /// When the request finished, in Unix milliseconds.
    public var unixMilliseconds: Int
    public var requestID: String
    /// The socket peer's IP address.
    public var clientAddress: String?
    public var method: String
    /// The route's name, or `unmatched`.
    public var route: String
    /// The request path, without the query.
    public var path: String
    /// The status sent, or 0 when the client went away before any response.
    public var status: Int
    /// The canonical code of an error envelope, when one was sent.
    public var code: String?
    /// The upstream's name, when the request was routed to one.
    public var upstream: String?
    /// Tries made at the upstream (0 when none was made).
    public var attempts: Int
    /// Request body bytes.
    public var bytesIn: Int
    /// Response body bytes written.
    public var bytesOut: Int
    /// From the complete request head to the end of the response.
    public var duration: Duration
    /// The W3C trace id (32 hex digits) the request was forwarded with, when it reached the proxy's routing.
    public var traceID: String?

    public init(
        unixMilliseconds: Int, requestID: String, clientAddress: String?, method: String, route: String, path: String,
        status: Int, code: String?, upstream: String?, attempts: Int, bytesIn: Int, bytesOut: Int, duration: Duration,
        traceID: String? = nil
    ) {
        self.unixMilliseconds = unixMilliseconds
        self.requestID = requestID
        self.clientAddress = clientAddress
        self.method = method
        self.route = route
        self.path = path
        self.status = status
        self.code = code
        self.upstream = upstream
        self.attempts = attempts
        self.bytesIn = bytesIn
        self.bytesOut = bytesOut
        self.duration = duration
        self.traceID = traceID
    }

    /// The record as one JSON object followed by a newline, built by hand: this runs once per request.
    ///
    /// `{"time":"2025-01-02T03:04:05.678Z","request_id":…,"client":…,"method":…,"route":…,"path":…,
    /// "status":200,"code":null,"upstream":…,"attempts":1,"bytes_in":0,"bytes_out":12,"duration_ms":1.234,
    /// "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`
    public func jsonLine() -> [UInt8] {
        var json = JSONWriter(reservingCapacity: 256 + self.path.utf8.count)
        json.raw("{\"time\":\"")
        Self.appendRFC3339(unixMilliseconds: self.unixMilliseconds, to: &json)
        json.raw("\",\"request_id\":")
        json.string(self.requestID)
        json.raw(",\"client\":")
        Self.appendOptional(self.clientAddress, to: &json)
        json.raw(",\"method\":")
        json.string(self.method)
        json.raw(",\"route\":")
        json.string(self.route)
        json.raw(",\"path\":")
        json.string(self.path)
        json.raw(",\"status\":")
        json.int(self.status)
        json.raw(",\"code\":")
        Self.appendOptional(self.code, to: &json)
        json.raw(",\"upstream\":")
        Self.appendOptional(self.upstream, to: &json)
        json.raw(",\"attempts\":")
        json.int(self.attempts)
        json.raw(",\"bytes_in\":")
        json.int(self.bytesIn)
        json.raw(",\"bytes_out\":")
        json.int(self.bytesOut)
        json.raw(",\"duration_ms\":")
        let (seconds, attoseconds) = self.duration.components
        let microseconds = max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        json.int(Int(microseconds / 1000))
        json.raw(".")
        Self.appendDigits(Int(microseconds % 1000), width: 3, to: &json)
        json.raw(",\"trace_id\":")
        Self.appendOptional(self.traceID, to: &json)
        json.raw("}\n")
        return json.bytes
    }

    private static func appendOptional(_ text: String?, to json: inout JSONWriter) {
        if let text { json.string(text) } else { json.raw("null") }
    }

    /// RFC 3339 in UTC with milliseconds: `2025-01-02T03:04:05.678Z`.
    static func appendRFC3339(unixMilliseconds: Int, to json: inout JSONWriter) {
        var seconds = time_t(unixMilliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        Self.appendDigits(Int(parts.tm_year) + 1900, width: 4, to: &json)
        json.raw("-")
        Self.appendDigits(Int(parts.tm_mon) + 1, width: 2, to: &json)
        json.raw("-")
        Self.appendDigits(Int(parts.tm_mday), width: 2, to: &json)
        json.raw("T")
        Self.appendDigits(Int(parts.tm_hour), width: 2, to: &json)
        json.raw(":")
        Self.appendDigits(Int(parts.tm_min), width: 2, to: &json)
        json.raw(":")
        Self.appendDigits(Int(parts.tm_sec), width: 2, to: &json)
        json.raw(".")
        Self.appendDigits(unixMilliseconds % 1000, width: 3, to: &json)
        json.raw("Z")
    }

    private static func appendDigits(_ value: Int, width: Int, to json: inout JSONWriter) {
        let text = String(value)
        if text.utf8.count < width { json.raw(String(repeating: "0", count: width - text.utf8.count)) }
        json.raw(text)
    }
}

/// Where access-log lines go: standard output in production, memory in tests.
public struct AccessLog: Sendable {
    private let sink: @Sendable ([UInt8]) -> Void

    /// - Parameter sink: receives each complete line (newline included); called from many tasks at once.
    public init(sink: @escaping @Sendable ([UInt8]) -> Void) {
        self.sink = sink
    }

    /// Writes each line to file descriptor 1 with one `write(2)` (a line below `PIPE_BUF` is atomic on a pipe, so
    /// concurrent lines never interleave); no lock, no buffering that could lose lines at exit.
    public static let standardOutput = AccessLog { line in
        line.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR || errno == EAGAIN {
                    continue
                } else {
                    return  // stdout is gone: losing the access log must not stop the proxy
                }
            }
        }
    }

    public func log(_ record: AccessLogRecord) {
        self.sink(record.jsonLine())
    }
}

/// What the access log needs that only later steps of a request learn. A class because the proxy hands its
/// exchange by value to the steps that learn it; used by one task at a time.
final class AccessNotes {
    var upstream: String?
    var attempts = 0
    var code: String?
    /// The request's trace context, once made.
    var trace: TraceContext?
}

extension AccessLog {
    /// Logs a request the proxy answered (or that ended without an answer because the client left).
    func requestFinished(
        _ request: ServerRequest, requestID: String, route: String, path: Substring, notes: AccessNotes,
        writer: ResponseWriter
    ) {
        self.log(
            AccessLogRecord(
                unixMilliseconds: DateHeader.unixMilliseconds(), requestID: requestID,
                clientAddress: request.peerIP, method: request.head.method.rawValue,
                route: route, path: String(path), status: Int(writer.status?.code ?? 0), code: notes.code,
                upstream: notes.upstream, attempts: notes.attempts, bytesIn: request.body?.readableBytes ?? 0,
                bytesOut: writer.bodyBytesWritten, duration: ContinuousClock.now - request.receivedAt,
                traceID: notes.trace?.traceIDHex))
    }

    /// Logs a refusal the listener made itself (431, 413, 408, 503 over `max_connections`, …).
    func refused(
        status: Int, code: String, requestID: String, method: String?, path: String, remoteAddress: SocketAddress?,
        bytesOut: Int
    ) {
        self.log(
            AccessLogRecord(
                unixMilliseconds: DateHeader.unixMilliseconds(), requestID: requestID,
                clientAddress: ForwardingHeaders.peerIP(remoteAddress), method: method ?? "-", route: "unmatched",
                path: path, status: status, code: code, upstream: nil, attempts: 0, bytesIn: 0, bytesOut: bytesOut,
                duration: .zero))
    }
}
