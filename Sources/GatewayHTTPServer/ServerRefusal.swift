/// A request the listener answers itself, before (or instead of) handing it to the responder.
///
/// Each case names the rule it enforces; the responder renders it as the canonical envelope, so the listener
/// stays ignorant of the envelope's format. Every refusal closes the connection after it (`Connection: close`): the
/// request's framing is in doubt, or the connection is over a limit.
public enum ServerRefusal: Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not valid HTTP/1.1 (llhttp refused them), or a rule of RFC 9112 is broken: 400.
    case malformedRequest(String)
    /// The head is larger than `max_header_bytes`, or has more fields than `max_header_count`: 431.
    case headerTooLarge
    /// The request target alone is larger than allowed: 414.
    case uriTooLong
    /// The body is larger than `max_body_bytes`: 413.
    case bodyTooLarge
    /// The head or the body did not arrive in time: 408.
    case requestTimeout
    /// A `Transfer-Encoding` other than a lone final `chunked`: 501.
    case unsupportedTransferEncoding
    /// `CONNECT` (no tunnels here): 501.
    case methodNotImplemented(String)
    /// An `Expect` other than `100-continue`: 417.
    case expectationFailed
    /// Too many open connections: 503.
    case tooManyConnections
    /// The responder failed before it sent a head: 500.
    case internalError

    /// The HTTP status of the refusal.
    public var status: Int {
        switch self {
        case .malformedRequest: return 400
        case .headerTooLarge: return 431
        case .uriTooLong: return 414
        case .bodyTooLarge: return 413
        case .requestTimeout: return 408
        case .unsupportedTransferEncoding, .methodNotImplemented: return 501
        case .expectationFailed: return 417
        case .tooManyConnections: return 503
        case .internalError: return 500
        }
    }

    /// A sentence safe to show the client.
    public var description: String {
        switch self {
        case .malformedRequest(let reason): return "The request is not valid HTTP/1.1: \(reason)."
        case .headerTooLarge: return "The request's header fields are larger than allowed."
        case .uriTooLong: return "The request target is longer than allowed."
        case .bodyTooLarge: return "The request body is larger than allowed."
        case .requestTimeout: return "The request was not received in time."
        case .unsupportedTransferEncoding: return "Only the chunked transfer coding is supported."
        case .methodNotImplemented(let method): return "The method \(method) is not supported by this gateway."
        case .expectationFailed: return "Only the expectation 100-continue is supported."
        case .tooManyConnections: return "The gateway has too many open connections; retry later."
        case .internalError: return "The gateway failed to process the request."
        }
    }
}
