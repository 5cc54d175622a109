import GatewayCore
import HTTPTypes
import NIOCore
import NIOHTTP1

/// The header rules of SPEC section 5 for both directions of the proxy.
enum ForwardingHeaders {
    static let xRequestID = HTTPField.Name("X-Request-ID")!
    static let via = HTTPField.Name("Via")!
    /// `Host`; swift-http-types hides it behind `HTTPRequest.authority`, but a proxy sends HTTP/1.1 fields.
    static let host = HTTPField.Name("Host")!
    static let viaValue = "1.1 error-gateway"

    /// The headers sent upstream: the client's end-to-end headers (hop-by-hop removed first, so `Connection` cannot
    /// remove what the gateway adds), then `X-Forwarded-*`, `X-Request-ID`, `Via`, the upstream's `headers.set` /
    /// `headers.remove`, and `Host`.
    static func upstreamRequestHeaders(
        client: HTTPHeaders,
        method: HTTPRequest.Method,
        peerAddress: String?,
        requestID: String,
        scheme: String,
        upstream: UpstreamConfiguration
    ) -> HTTPFields {
        var fields = HTTPFields()
        // Room for the six fields added below, each try's `traceparent` (`UpstreamRequest.beginTry`) and the config's: an
        // append never grows the storage.
        fields.reserveCapacity(client.count + 8 + upstream.headers.set.count)
        var clientHost: String?
        var forwardedFor: String?
        var via: String?
        // Hop-by-hop fields are left out as the client's fields are copied, not removed from a copy afterwards.
        let connectionOptions = HopByHopHeaders.connectionOptions(client["connection"])
        for (name, value) in client {
            guard let fieldName = HTTPField.Name(name) else { continue }
            switch fieldName {
            case Self.host:
                clientHost = value
            case .xForwardedFor:
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
            case Self.via:
                via = via.map { "\($0), \(value)" } ?? value
            case Self.xRequestID, .xForwardedProto, .xForwardedHost:
                continue
            case _ where HopByHopHeaders.isHopByHop(fieldName, connectionOptions: connectionOptions):
                continue
            case .maxForwards where method == .options || method == .trace:
                // RFC 9110 section 7.6.2: a recipient that forwards OPTIONS or TRACE decrements Max-Forwards (the
                // responder answers 0 itself).
                if let hops = Int(value), hops > 0 {
                    fields.append(HTTPField(name: .maxForwards, value: String(hops - 1)))
                }
            case .expect:
                // The listener answered `100-continue` itself and holds the whole body: forwarding the expectation
                // would make curl wait up to 1 s for an upstream `100 Continue` (NIO-AND-CURL-NOTES.md).
                continue
            default:
                fields.append(HTTPField(name: fieldName, value: value))
            }
        }

        // None of the fields added below is in `fields` (the loop above kept them aside), so they are appended: a
        // subscript set would first build the fields' name index.
        if let peerAddress {
            let value = forwardedFor.map { "\($0), \(peerAddress)" } ?? peerAddress
            fields.append(HTTPField(name: .xForwardedFor, value: value))
        } else if let forwardedFor {
            fields.append(HTTPField(name: .xForwardedFor, value: forwardedFor))
        }
        fields.append(HTTPField(name: .xForwardedProto, value: scheme))
        if let clientHost { fields.append(HTTPField(name: .xForwardedHost, value: clientHost)) }
        fields.append(HTTPField(name: Self.xRequestID, value: requestID))
        fields.append(HTTPField(name: Self.via, value: via.map { "\($0), \(Self.viaValue)" } ?? Self.viaValue))

        for name in upstream.headers.remove { fields[name] = nil }
        for field in upstream.headers.set { fields[field.name] = field.value }

        // `Host` is reserved (the config can neither set nor remove it), so it is not in `fields` either.
        let host = upstream.preserveHost ? (clientHost ?? upstream.url.authority) : upstream.url.authority
        fields.append(HTTPField(name: Self.host, value: host))
        return fields
    }

    /// The headers sent to the client for an upstream response that passes through: hop-by-hop removed,
    /// `X-Request-ID` and `Via` set, framing left to what the gateway actually sends.
    static func clientResponseHeaders(upstream: HTTPFields, requestID: String, keepContentLength: Bool) -> HTTPHeaders {
        // RFC 9112 section 6.3: with both, Transfer-Encoding wins and an intermediary must drop Content-Length;
        // curl decoded the chunked body, so forwarding the stale length would desync the client connection.
        let keepContentLength = keepContentLength && !upstream.contains { $0.name == .transferEncoding }
        let connectionOptions = HopByHopHeaders.connectionOptions(in: upstream)
        var headers = HTTPHeaders()
        headers.reserveCapacity(upstream.count + 2)
        var via: String?
        var hasDate = false
        for field in upstream where !HopByHopHeaders.isHopByHop(field.name, connectionOptions: connectionOptions) {
            switch field.name {
            case .date:
                hasDate = true
                headers.add(name: field.name.rawName, value: field.value)
            case Self.xRequestID:
                continue
            case Self.via:
                via = via.map { "\($0), \(field.value)" } ?? field.value
            case .contentLength where !keepContentLength:
                continue
            default:
                headers.add(name: field.name.rawName, value: field.value)
            }
        }
        if !hasDate {
            // RFC 9110 section 6.6.1: a recipient with a clock appends Date to a forwarded response that lacks one.
            headers.add(name: "date", value: DateHeader.now())
        }
        headers.add(name: "x-request-id", value: requestID)
        headers.add(name: "via", value: via.map { "\($0), \(Self.viaValue)" } ?? Self.viaValue)
        return headers
    }

    /// The textual IP of a socket address, for `X-Forwarded-For` and rate-limit keys.
    static func peerIP(_ address: SocketAddress?) -> String? {
        address?.ipAddress
    }
}
