import GatewayCore
import HTTPTypes

/// Decides the canonical code of an upstream error, with a fixed precedence (first that says wins):
///
/// 1. the operator's `codes:` table, on the vendor's code or category;
/// 2. the vendor preset's table;
/// 3. header signals: a Bearer challenge's `error=` (RFC 6750 section 3.1), a rate-limit window at zero on a 400 or
///    403 (`X-RateLimit-Remaining: 0`, `RateLimit: …;r=0`), a quota window at zero (`X-Quota-Remaining: 0`);
/// 4. the vendor's code, then its category: the family's own reading where the family knows that code (Google
///    `status`, OAuth 2.0 `error`, GraphQL `extensions.code`…), else ``Vocabulary``'s code entries; a rate limit
///    whose message calls it a quota, with no stated wait, is `quota_exceeded`;
/// 5. ``Vocabulary``'s message entries on the vendor's message;
/// 6. the status class (a 400 with field errors is `validation_failed`).
///
/// Steps 3–5 only refine what the status says (``Vocabulary/refinements(of:)``): a 403 whose code says the key is
/// invalid is `unauthenticated`, a 404 stays `not_found` whatever its message says.
enum Classifier {
    /// Which rule decided, for `gateway explain`.
    enum Rule: Sendable, Equatable, CustomStringConvertible {
        case operatorTable(vendorCode: String)
        case preset(name: String, vendorCode: String)
        case bearerChallenge(error: String)
        case rateLimitHeaders(field: String)
        case familyVocabulary(family: String, vendorCode: String)
        case codeVocabulary(vendorCode: String, phrase: String)
        case messageVocabulary(phrase: String)
        case status(Int)
        case statusWithFieldErrors(Int)

        var description: String {
            switch self {
            case .operatorTable(let code): return "the config's codes: table maps '\(code)'"
            case .preset(let name, let code): return "preset \(name)'s code table maps '\(code)'"
            case .bearerChallenge(let error): return "WWW-Authenticate Bearer error=\"\(error)\" (RFC 6750)"
            case .rateLimitHeaders(let field): return "header \(field) says the window is spent"
            case .familyVocabulary(let family, let code): return "\(family)'s own vocabulary knows '\(code)'"
            case .codeVocabulary(let code, let phrase):
                return "vendor code '\(code)' matches vocabulary entry '\(phrase)'"
            case .messageVocabulary(let phrase): return "the message contains vocabulary phrase '\(phrase)'"
            case .status(let status): return "status \(status) by its class (no better signal)"
            case .statusWithFieldErrors(let status): return "status \(status) with field errors"
            }
        }
    }

    /// - Parameter status: the upstream's status; 0 for an error found in a 2xx body (nothing to refine).
    static func classify(
        status: Int, headers: HTTPFields, vendor: VendorError?, operatorCodes: [String: ErrorCode],
        preset: VendorPreset?
    ) -> (code: ErrorCode, rule: Rule) {
        let candidates = [vendor?.code, vendor?.category].compactMap { $0 }
        for candidate in candidates {
            if let code = operatorCodes[candidate] { return (code, .operatorTable(vendorCode: candidate)) }
        }
        for candidate in candidates {
            if let preset, let code = preset.codes[candidate] {
                return (code, .preset(name: preset.name, vendorCode: candidate))
            }
        }
        let byStatus = ErrorCode.forStatus(status)
        // The message's vocabulary, looked up once, when first needed.
        var messageMatches: [VocabularyMatcher.Match]?
        func messageVocabulary() -> [VocabularyMatcher.Match] {
            if let messageMatches { return messageMatches }
            let matches =
                vendor?.message.map { VocabularyMatcher.messages.matchesInSequence(CodeWords.words($0)) } ?? []
            messageMatches = matches
            return matches
        }
        let allowed = Vocabulary.refinements(of: status)
        func refines(_ code: ErrorCode) -> Bool { code == byStatus || allowed.contains(code) }

        if let signal = HeaderSignals.classify(status: status, headers: headers), refines(signal.code) {
            return signal
        }
        if let vendor {
            if vendor.impliedOverridesStatus, let implied = vendor.impliedCode, let code = vendor.impliedFrom {
                return (implied, .familyVocabulary(family: vendor.dialectName, vendorCode: code))
            }
            for candidate in candidates {
                if candidate == vendor.impliedFrom, let implied = vendor.impliedCode, refines(implied) {
                    let code = Self.refinedByMessage(
                        Self.withFieldErrors(implied, vendor: vendor), vendor: vendor, headers: headers,
                        messageMatches: messageVocabulary)
                    return (code, .familyVocabulary(family: vendor.dialectName, vendorCode: candidate))
                }
                let words = CodeWords.words(candidate)
                if let match = VocabularyMatcher.codes.matchesInSequence(words).first(where: { refines($0.code) }) {
                    // A code that only says "invalid request" or "server error" leaves room for a message that says
                    // more ("you are creating accounts too quickly", "the model is overloaded").
                    if match.code == .badRequest || match.code == .upstreamError,
                        let refined = messageVocabulary().first(where: { refines($0.code) }), refined.code != match.code
                    {
                        return (
                            Self.withFieldErrors(refined.code, vendor: vendor),
                            .messageVocabulary(phrase: refined.phrase)
                        )
                    }
                    let code = Self.refinedByMessage(
                        Self.withFieldErrors(match.code, vendor: vendor), vendor: vendor, headers: headers,
                        messageMatches: messageVocabulary)
                    return (code, .codeVocabulary(vendorCode: candidate, phrase: match.phrase))
                }
            }
            if let implied = vendor.impliedCode, refines(implied), let code = vendor.code {
                return (
                    Self.withFieldErrors(implied, vendor: vendor),
                    .familyVocabulary(family: vendor.dialectName, vendorCode: code)
                )
            }
            // Named field errors already say what the message would: the request's fields are invalid.
            if !vendor.fieldErrors.contains(where: { $0.field != nil }),
                let match = messageVocabulary().first(where: { refines($0.code) }), match.code != byStatus
            {
                return (Self.withFieldErrors(match.code, vendor: vendor), .messageVocabulary(phrase: match.phrase))
            }
        }
        if byStatus == .badRequest, status == 400 || status == 0,
            vendor?.fieldErrors.contains(where: { $0.field != nil }) == true
        {
            return (.validationFailed, .statusWithFieldErrors(status))
        }
        return (byStatus, .status(status))
    }

    /// A generic `bad_request` with named field errors is a validation failure.
    private static func withFieldErrors(_ code: ErrorCode, vendor: VendorError) -> ErrorCode {
        guard code == .badRequest, vendor.fieldErrors.contains(where: { $0.field != nil }) else { return code }
        return .validationFailed
    }

    /// A rate limit whose message says it is a quota (a daily or monthly allowance, credits) is one, unless the
    /// vendor states a wait: a limit that comes back in seconds is a rate limit whatever it is called.
    private static func refinedByMessage(
        _ code: ErrorCode, vendor: VendorError, headers: HTTPFields,
        messageMatches: () -> [VocabularyMatcher.Match]
    ) -> ErrorCode {
        guard code == .rateLimited, vendor.retryAfterSeconds == nil, headers[.retryAfter] == nil else { return code }
        return messageMatches().first?.code == .quotaExceeded ? .quotaExceeded : code
    }
}
