import GatewayCore
import HTTPTypes

/// Builds the canonical envelope from what a dialect read (or nothing), the status and the headers: maps codes,
/// applies `expose_upstream_messages`, sanitises text and reads the retry hint. The one place that decides.
enum EnvelopeAssembler {
    /// At most this many `errors[]` items are carried over.
    static let maximumFieldErrors = 100
    /// At most this many suggestions.
    static let maximumSuggestions = 20

    /// How the envelope's members were decided, for `gateway explain`: cheap values, built on every call.
    struct Decisions: Sendable {
        var rule: Classifier.Rule
        var retryAfter: RetryOrigin?
        /// The Bearer challenge gave the vendor's code or message (the body gave none).
        var bearer: HeaderSignals.BearerChallenge?
        var codeFromHeader: String?
    }

    /// Where `retry_after` came from.
    enum RetryOrigin: Sendable, Equatable {
        case header(String)
        case body
    }

    static func assemble(
        status: Int, headers: HTTPFields, vendor: VendorError?, context: NormalizationContext
    ) -> ProblemDocument {
        Self.assembleExplained(status: status, headers: headers, vendor: vendor, context: context).document
    }

    static func assembleExplained(
        status: Int, headers: HTTPFields, vendor original: VendorError?, context: NormalizationContext,
        statusForCode: Int? = nil
    ) -> (document: ProblemDocument, decisions: Decisions) {
        let preset = Self.preset(of: context.upstream.dialect)
        var vendor = original
        var decisions = Decisions(rule: .status(status))
        // Headers fill what the body did not say: a Bearer challenge's error and description (RFC 6750 sends
        // them with an empty body), AWS's `x-amzn-ErrorType`.
        if status >= 400, vendor?.code == nil || vendor?.message == nil {
            if let challenge = HeaderSignals.bearerChallenge(headers) {
                var filled = vendor ?? VendorError(dialectName: OAuth2Dialect.name)
                if filled.code == nil { filled.code = challenge.error }
                if filled.message == nil { filled.message = challenge.description }
                vendor = filled
                decisions.bearer = challenge
            }
        }
        // AWS names the error in `x-amzn-ErrorType` (its SDKs read it before the body); the body's code, if any,
        // is kept as the category.
        if status >= 400, decisions.bearer == nil, let code = HeaderSignals.vendorCode(headers) {
            var filled = vendor ?? VendorError(dialectName: GenericDialect.name)
            if filled.code != code {
                if filled.category == nil { filled.category = filled.code }
                filled.code = code
            }
            vendor = filled
            decisions.codeFromHeader = code
        }
        let (code, rule) = Classifier.classify(
            status: statusForCode ?? status, headers: headers, vendor: vendor, operatorCodes: context.upstream.codes,
            preset: preset)
        decisions.rule = rule
        let show: Bool
        switch context.expose {
        case .all: show = true
        case .clientErrors: show = status < 500
        case .none: show = false
        }

        var detail: String?
        var fieldErrors: [ProblemDocument.FieldError] = []
        if let vendor {
            if show { detail = vendor.message.flatMap { TextSanitizer.clean($0) } }
            for item in vendor.fieldErrors.prefix(Self.maximumFieldErrors) {
                let message = show ? TextSanitizer.clean(item.message) : nil
                let field = item.field.flatMap {
                    TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes)
                }
                let pointer =
                    item.pointer.flatMap { TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes) }
                    ?? (item.isBodyField ? field.flatMap(FieldPath.pointer(forField:)) : nil)
                fieldErrors.append(
                    ProblemDocument.FieldError(
                        detail: message ?? code.neutralDetail,
                        pointer: pointer,
                        field: field,
                        code: item.code.flatMap {
                            TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes)
                        },
                        params: item.params))
            }
        }
        let (retryAfter, retryOrigin) = Self.retryAfter(
            status: status, headers: headers, code: code, vendor: vendor, context: context)
        decisions.retryAfter = retryOrigin
        var document = ProblemDocument(
            code: code,
            status: status,
            detail: detail,
            instance: context.instance,
            requestID: context.requestID,
            source: .upstream,
            upstream: ProblemDocument.UpstreamInfo(
                name: context.upstream.name, status: status,
                code: vendor?.code.flatMap { TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes) },
                dialect: vendor.map { preset?.name ?? $0.dialectName }),
            errors: fieldErrors,
            retryAfter: retryAfter,
            suggestions: nil,
            params: vendor?.params)
        if show, let suggestions = vendor?.suggestions {
            let cleaned = suggestions.prefix(Self.maximumSuggestions).compactMap { TextSanitizer.clean($0) }
            document.suggestions = cleaned.isEmpty ? nil : cleaned
        }
        // A spent quota does not come back by retrying, whatever the status; any other 5xx may.
        document.retryable = code != .quotaExceeded && (status >= 500 || code.isRetryable)
        return (document, decisions)
    }

    static func preset(of setting: DialectSetting) -> VendorPreset? {
        if case .builtin(let name) = setting { return VendorPreset.named(name) }
        return nil
    }

    /// `Retry-After` and the rate-limit headers (``RetryHint``); for `quota_exceeded`, `X-Quota-Reset` before the
    /// request-rate window's reset; else a wait the body states.
    static func retryAfter(
        status: Int, headers: HTTPFields, code: ErrorCode, vendor: VendorError?, context: NormalizationContext
    ) -> (Int?, RetryOrigin?) {
        let now = context.nowUnixSeconds
        if code == .quotaExceeded {
            if let value = headers.value(of: .retryAfter),
                let seconds = RetryHint.retryAfter(value, nowUnixSeconds: now)
            {
                return (seconds, .header("Retry-After"))
            }
            if let value = headers.value(of: .xQuotaReset), let seconds = RetryHint.reset(value, nowUnixSeconds: now) {
                return (seconds, .header("X-Quota-Reset"))
            }
        }
        if let (seconds, field) = RetryHint.secondsWithSource(status: status, headers: headers, nowUnixSeconds: now) {
            return (seconds, .header(field))
        }
        if let seconds = vendor?.retryAfterSeconds { return (seconds, .body) }
        if code == .rateLimited || code == .quotaExceeded || status == 429,
            let (seconds, field) = HeaderSignals.rateLimitReset(status: status, headers: headers, nowUnixSeconds: now)
        {
            return (seconds, .header(field))
        }
        return (nil, nil)
    }
}
