/// One canonical error code of the envelope (SPEC section 3, "Canonical codes").
///
/// The set is closed on purpose: clients switch on these values, and metrics use them as label values, so every
/// code the gateway can emit is one of the static members below. Vendor codes never become an `ErrorCode`
/// directly; a dialect maps them (or the status) onto this table and keeps the original in `upstream.code`.
public struct ErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The wire form, e.g. `validation_failed`.
    public let rawValue: String
    /// The status used when the gateway makes this error itself, or when a mapping changes the status.
    public let typicalStatus: Int
    /// Whether the same request may succeed if retried later.
    public let isRetryable: Bool
    /// The RFC 9457 `title`: a short summary that does not change from occurrence to occurrence.
    public let title: String
    /// The neutral sentence used as `detail` when the vendor's text may not be shown.
    public let neutralDetail: String

    private init(_ rawValue: String, _ status: Int, retryable: Bool, title: String, detail: String) {
        self.rawValue = rawValue
        self.typicalStatus = status
        self.isRetryable = retryable
        self.title = title
        self.neutralDetail = detail
    }

    public var description: String { self.rawValue }

    public static func == (lhs: ErrorCode, rhs: ErrorCode) -> Bool { lhs.rawValue == rhs.rawValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.rawValue) }

    public static let badRequest = ErrorCode(
        "bad_request", 400, retryable: false, title: "Bad request",
        detail: "The request could not be processed as sent.")
    public static let validationFailed = ErrorCode(
        "validation_failed", 422, retryable: false, title: "Validation failed",
        detail: "One or more fields of the request are invalid.")
    public static let unauthenticated = ErrorCode(
        "unauthenticated", 401, retryable: false, title: "Unauthenticated",
        detail: "The request lacks valid authentication credentials.")
    public static let paymentRequired = ErrorCode(
        "payment_required", 402, retryable: false, title: "Payment required",
        detail: "The requested feature requires a paid plan.")
    public static let permissionDenied = ErrorCode(
        "permission_denied", 403, retryable: false, title: "Permission denied",
        detail: "The credentials do not allow this request.")
    public static let notFound = ErrorCode(
        "not_found", 404, retryable: false, title: "Not found",
        detail: "The requested resource does not exist.")
    public static let methodNotAllowed = ErrorCode(
        "method_not_allowed", 405, retryable: false, title: "Method not allowed",
        detail: "The method is not allowed for this resource.")
    public static let requestTimeout = ErrorCode(
        "request_timeout", 408, retryable: true, title: "Request timeout",
        detail: "The request was not received in time.")
    public static let conflict = ErrorCode(
        "conflict", 409, retryable: false, title: "Conflict",
        detail: "The request conflicts with the current state of the resource.")
    public static let gone = ErrorCode(
        "gone", 410, retryable: false, title: "Gone",
        detail: "The resource is no longer available.")
    public static let preconditionFailed = ErrorCode(
        "precondition_failed", 412, retryable: false, title: "Precondition failed",
        detail: "A precondition of the request was not met.")
    public static let payloadTooLarge = ErrorCode(
        "payload_too_large", 413, retryable: false, title: "Payload too large",
        detail: "The request body is larger than allowed.")
    public static let unsupportedMediaType = ErrorCode(
        "unsupported_media_type", 415, retryable: false, title: "Unsupported media type",
        detail: "The request body's media type is not supported.")
    public static let headerTooLarge = ErrorCode(
        "header_too_large", 431, retryable: false, title: "Request header fields too large",
        detail: "The request's header fields are larger than allowed.")
    public static let rateLimited = ErrorCode(
        "rate_limited", 429, retryable: true, title: "Rate limited",
        detail: "Too many requests; retry later.")
    public static let quotaExceeded = ErrorCode(
        "quota_exceeded", 429, retryable: false, title: "Quota exceeded",
        detail: "The usage quota is exhausted until it resets.")
    public static let upstreamError = ErrorCode(
        "upstream_error", 500, retryable: true, title: "Upstream error",
        detail: "The upstream service failed to process the request.")
    public static let upstreamUnavailable = ErrorCode(
        "upstream_unavailable", 502, retryable: true, title: "Upstream unavailable",
        detail: "The upstream service could not be reached.")
    public static let upstreamTimeout = ErrorCode(
        "upstream_timeout", 504, retryable: true, title: "Upstream timeout",
        detail: "The upstream service did not answer in time.")
    public static let serviceUnavailable = ErrorCode(
        "service_unavailable", 503, retryable: true, title: "Service unavailable",
        detail: "The gateway cannot serve this request right now.")
    public static let internalError = ErrorCode(
        "internal_error", 500, retryable: true, title: "Internal error",
        detail: "The gateway failed to process the request.")

    /// Every canonical code, in the order of the SPEC table.
    public static let all: [ErrorCode] = [
        .badRequest, .validationFailed, .unauthenticated, .paymentRequired, .permissionDenied, .notFound,
        .methodNotAllowed, .requestTimeout, .conflict, .gone, .preconditionFailed, .payloadTooLarge,
        .unsupportedMediaType, .headerTooLarge, .rateLimited, .quotaExceeded, .upstreamError,
        .upstreamUnavailable, .upstreamTimeout, .serviceUnavailable, .internalError,
    ]

    private static let byName: [String: ErrorCode] = Dictionary(
        uniqueKeysWithValues: ErrorCode.all.map { ($0.rawValue, $0) })

    /// The canonical code with this wire name, or nil (used to validate `codes:` tables in the config).
    public init?(rawValue: String) {
        guard let code = Self.byName[rawValue] else { return nil }
        self = code
    }

    /// The code an HTTP status implies when nothing better is known (SPEC: "A status with no better signal maps
    /// by class: other 4xx to `bad_request`, other 5xx to `upstream_error`").
    public static func forStatus(_ status: Int) -> ErrorCode {
        switch status {
        case 400: return .badRequest
        case 401: return .unauthenticated
        case 402: return .paymentRequired
        case 403: return .permissionDenied
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 408: return .requestTimeout
        case 409: return .conflict
        case 410: return .gone
        case 412: return .preconditionFailed
        case 413: return .payloadTooLarge
        case 415: return .unsupportedMediaType
        case 422: return .validationFailed
        case 429: return .rateLimited
        case 431: return .headerTooLarge
        case 502, 503: return .upstreamUnavailable
        case 504: return .upstreamTimeout
        case 500..<600: return .upstreamError
        default: return .badRequest
        }
    }
}
