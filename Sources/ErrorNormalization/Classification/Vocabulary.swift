import GatewayCore

/// The vocabulary: what vendors' codes and messages mean, as one table of data.
///
/// Each entry is a few words and the canonical code they mean. A word ending in `*` is a stem (`throttl*` meets
/// `throttled`, `throttling`, `ThrottlingException`). Texts are split into words by ``CodeWords`` first, so an
/// entry meets every spelling of its words (`resource not found` ↔ `ResourceNotFoundException`,
/// `RESOURCE_NOT_FOUND`).
///
/// An entry matches when its words stand next to each other, in order, in the code or message
/// (`ResourceNotFoundException` has `not found`; `payment_source_required` does not have `payment required`). Of
/// several matching entries the one with the most words wins (`invalid api key` beats `invalid`), then the earlier
/// one. Codes and messages have separate tables: a code is terse and every word counts; a message is prose, where
/// only phrases are safe.
///
/// ``Classifier`` applies the result only where ``refinements(of:)`` allows it for the response's status.
enum Vocabulary {
    static let codeEntries: [(words: String, code: ErrorCode)] = [
        // Quotas, plans, credits and billing limits: not until the quota resets. Before the rate limits, so that
        // on a tie the more specific word wins (`policies.ratelimit.QuotaViolation`).
        ("quota*", .quotaExceeded), ("daily limit*", .quotaExceeded), ("monthly limit*", .quotaExceeded),
        ("usage limit*", .quotaExceeded), ("insufficient credit*", .quotaExceeded),
        ("credit* exhausted", .quotaExceeded),
        ("billing hard limit*", .quotaExceeded), ("plan limit*", .quotaExceeded), ("out of credit*", .quotaExceeded),
        ("spend limit*", .quotaExceeded),
        ("billing not active", .paymentRequired),
        // Rate limits and throttling: retry later.
        ("rate limit*", .rateLimited), ("ratelimit*", .rateLimited), ("throttl*", .rateLimited),
        ("too many requests", .rateLimited), ("too many", .rateLimited), ("toomanyrequests", .rateLimited),
        ("slow down", .rateLimited), ("slowdown", .rateLimited), ("limit exceed*", .rateLimited),
        ("throughput exceed*", .rateLimited), ("resource exhausted", .rateLimited),
        ("concurrent requests", .rateLimited), ("request limit*", .rateLimited),
        // Credentials.
        ("unauthenticated", .unauthenticated), ("unauthori*", .unauthenticated), ("authenticat*", .unauthenticated),
        ("not authenticated", .unauthenticated), ("invalid api key", .unauthenticated),
        ("api key invalid", .unauthenticated), ("invalid key", .unauthenticated), ("invalid token", .unauthenticated),
        ("token expired", .unauthenticated), ("expired token", .unauthenticated), ("token revoked", .unauthenticated),
        ("invalid credential*", .unauthenticated), ("bad credential*", .unauthenticated),
        ("invalid client", .unauthenticated), ("invalid grant", .unauthenticated), ("invalid auth", .unauthenticated),
        ("not authed", .unauthenticated), ("invalid signature", .unauthenticated),
        ("signature does not match", .unauthenticated), ("unrecognized client", .unauthenticated),
        ("invalid access key", .unauthenticated), ("missing api key", .unauthenticated),
        ("missing authentication", .unauthenticated),
        ("session expired", .unauthenticated), ("invalid session", .unauthenticated),
        ("missing token", .unauthenticated), ("no api key", .unauthenticated), ("api key missing", .unauthenticated),
        ("api key expired", .unauthenticated), ("key expired", .unauthenticated),
        // Permissions.
        ("forbidden", .permissionDenied), ("access denied", .permissionDenied), ("permission*", .permissionDenied),
        ("denied", .permissionDenied), ("not authori*", .permissionDenied), ("unauthori* client", .permissionDenied),
        ("insufficient scope", .permissionDenied), ("insufficient permission*", .permissionDenied),
        ("not permitted", .permissionDenied), ("not allowed", .permissionDenied),
        ("unauthori* operation", .permissionDenied), ("insufficient privilege*", .permissionDenied),
        // Missing things.
        ("not found", .notFound), ("notfound", .notFound), ("no such", .notFound), ("nosuch*", .notFound),
        ("not exist*", .notFound), ("resource missing", .notFound), ("nonexistent", .notFound),
        ("manifest unknown", .notFound), ("blob unknown", .notFound), ("name unknown", .notFound),
        ("unknown resource", .notFound), ("no route", .notFound),
        // Conflicts.
        ("already exist*", .conflict), ("alreadyexists", .conflict), ("conflict*", .conflict),
        ("duplicate*", .conflict), ("exists", .conflict), ("in use", .conflict), ("already", .conflict),
        ("concurrent modification", .conflict),
        // Invalid input.
        ("validation*", .validationFailed), ("invalid params", .validationFailed),
        ("unprocessable*", .validationFailed), ("invalid input", .validationFailed),
        ("bad user input", .validationFailed), ("record invalid", .validationFailed),
        ("invalid field*", .validationFailed),
        // Payment.
        ("payment required", .paymentRequired), ("payment failed", .paymentRequired),
        ("payment declined", .paymentRequired), ("payment error", .paymentRequired),
        ("card declined", .paymentRequired), ("declined", .paymentRequired),
        ("insufficient funds", .paymentRequired), ("card error", .paymentRequired), ("expired card", .paymentRequired),
        // The rest of the 4xx table.
        ("gone", .gone), ("expired", .gone), ("precondition*", .preconditionFailed),
        ("conditional check failed", .preconditionFailed), ("too large", .payloadTooLarge),
        ("entity too large", .payloadTooLarge), ("unsupported media type", .unsupportedMediaType),
        ("method not allowed", .methodNotAllowed), ("method not supported", .methodNotAllowed),
        // Upstream failures.
        ("unavailable", .upstreamUnavailable), ("overloaded", .upstreamUnavailable),
        ("bad gateway", .upstreamUnavailable), ("maintenance", .upstreamUnavailable),
        ("timeout", .upstreamTimeout), ("timed out", .upstreamTimeout), ("deadline exceeded", .upstreamTimeout),
        ("internal*", .upstreamError), ("server error", .upstreamError), ("unknown error", .upstreamError),
        ("api error", .upstreamError),
        // Last: the generic words, so that on a tie every entry above wins over them.
        ("invalid*", .badRequest), ("bad request", .badRequest), ("malformed", .badRequest),
        ("missing param*", .badRequest), ("required", .badRequest), ("unsupported", .badRequest),
    ]

    static let messageEntries: [(words: String, code: ErrorCode)] = [
        ("rate limit*", .rateLimited), ("ratelimit*", .rateLimited), ("rate limited", .rateLimited),
        ("too many requests", .rateLimited), ("throttl*", .rateLimited), ("slow down", .rateLimited),
        ("request limit exceeded", .rateLimited),
        ("exceeded your current quota", .quotaExceeded), ("quota exceeded", .quotaExceeded),
        ("quota has been exceeded", .quotaExceeded), ("out of credits", .quotaExceeded),
        ("insufficient credits", .quotaExceeded), ("monthly limit", .quotaExceeded), ("daily limit", .quotaExceeded),
        ("usage limit", .quotaExceeded), ("quota", .quotaExceeded), ("out of credit*", .quotaExceeded),
        ("billing", .paymentRequired), ("too quickly", .rateLimited), ("too frequently", .rateLimited),
        ("validation failed", .validationFailed), ("validation error", .validationFailed),
        ("authentication error", .unauthenticated), ("authentication failed", .unauthenticated),
        ("authentication required", .unauthenticated), ("authentication credentials", .unauthenticated),
        ("requires authentication", .unauthenticated), ("invalid authentication", .unauthenticated),
        ("not authenticated", .unauthenticated), ("unauthenticated", .unauthenticated),
        ("invalid api key", .unauthenticated), ("incorrect api key", .unauthenticated),
        ("api key not valid", .unauthenticated), ("api key is invalid", .unauthenticated),
        ("invalid api token", .unauthenticated), ("no api key", .unauthenticated),
        ("missing api key", .unauthenticated), ("api key required", .unauthenticated),
        ("api key is required", .unauthenticated), ("invalid token", .unauthenticated),
        ("invalid access token", .unauthenticated), ("token has expired", .unauthenticated),
        ("token expired", .unauthenticated), ("token is expired", .unauthenticated),
        ("expired token", .unauthenticated), ("invalid credentials", .unauthenticated),
        ("bad credentials", .unauthenticated), ("security token included in the request is invalid", .unauthenticated),
        ("permission denied", .permissionDenied), ("access denied", .permissionDenied),
        ("do not have permission", .permissionDenied), ("does not have permission", .permissionDenied),
        ("insufficient permission*", .permissionDenied), ("not authorized to", .permissionDenied),
        ("not found", .notFound), ("does not exist", .notFound), ("could not be found", .notFound),
        ("no such", .notFound), ("already exists", .conflict), ("already been taken", .conflict),
        ("already in use", .conflict), ("overloaded", .upstreamUnavailable),
        ("temporarily unavailable", .upstreamUnavailable), ("service unavailable", .upstreamUnavailable),
        ("bad gateway", .upstreamUnavailable), ("no healthy upstream", .upstreamUnavailable),
        ("upstream connect error", .upstreamUnavailable), ("connection refused", .upstreamUnavailable),
        ("timed out", .upstreamTimeout), ("timeout", .upstreamTimeout), ("gateway timeout", .upstreamTimeout),
        ("deadline exceeded", .upstreamTimeout), ("card was declined", .paymentRequired),
        ("insufficient funds", .paymentRequired), ("payment required", .paymentRequired),
        ("too large", .payloadTooLarge),
    ]

    /// Whole-error messages that say nothing specific: a status's reason phrase or a vendor's boilerplate. When
    /// such a message comes with exactly one more specific message that names no field, that one is the detail.
    static let genericMessages: Set<String> = [
        "bad request", "unauthorized", "payment required", "forbidden", "not found", "method not allowed",
        "not acceptable", "request timeout", "conflict", "gone", "precondition failed", "payload too large",
        "unsupported media type", "unprocessable entity", "unprocessable content", "too many requests",
        "internal server error", "not implemented", "bad gateway", "service unavailable", "gateway timeout",
        "error", "an error occurred", "unknown error", "request failed", "validation failed", "validation error",
        "invalid request", "invalid form body", "the request is invalid", "one or more validation errors occurred",
        "the requested action could not be performed, semantically incorrect, or failed business validation",
        "request validation failed", "invalid input", "bad request error",
    ]

    /// The codes a vocabulary match may put in place of what the status says: a refinement within the status's
    /// meaning, never a contradiction (a 404 stays `not_found` whatever its message says; a 403 may turn out to be
    /// a rate limit or a bad key; a 400 can be almost anything a client did wrong).
    static func refinements(of status: Int) -> Set<ErrorCode> {
        // Built once: a set literal returned from a switch would be built on every call (a request's hot path).
        switch status {
        case 0:
            // No status to refine (an error found inside a 2xx body): the vocabulary decides alone.
            return Self.anyCode
        case 401: return Self.refining401
        case 402: return Self.refining402
        case 403: return Self.refining403
        case 404: return Self.refining404
        case 409: return Self.refining409
        case 422: return Self.refining422
        case 429: return Self.refining429
        case 500..<600: return Self.refining5xx
        case 405, 406, 408, 410, 411, 412, 413, 414, 415, 416, 417, 431:
            return []
        case 400..<500:
            return Self.anyClientError
        default:
            return []
        }
    }

    private static let anyCode = Set(ErrorCode.all)
    private static let refining401: Set<ErrorCode> = [.rateLimited, .quotaExceeded, .paymentRequired]
    private static let refining402: Set<ErrorCode> = [.quotaExceeded, .rateLimited]
    private static let refining403: Set<ErrorCode> = [.unauthenticated, .rateLimited, .quotaExceeded, .paymentRequired]
    private static let refining404: Set<ErrorCode> = [.gone]
    private static let refining409: Set<ErrorCode> = [.rateLimited, .preconditionFailed]
    private static let refining422: Set<ErrorCode> = [
        .notFound, .conflict, .unauthenticated, .permissionDenied, .paymentRequired, .rateLimited, .quotaExceeded,
        .preconditionFailed,
    ]
    private static let refining429: Set<ErrorCode> = [.quotaExceeded]
    private static let refining5xx: Set<ErrorCode> = [
        .rateLimited, .quotaExceeded, .upstreamUnavailable, .upstreamTimeout, .upstreamError,
    ]

    private static let anyClientError: Set<ErrorCode> = [
        .badRequest, .validationFailed, .unauthenticated, .paymentRequired, .permissionDenied, .notFound,
        .methodNotAllowed, .conflict, .gone, .preconditionFailed, .payloadTooLarge, .unsupportedMediaType,
        .rateLimited, .quotaExceeded,
    ]
}
