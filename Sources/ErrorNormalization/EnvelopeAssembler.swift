import GatewayCore
import HTTPTypes

/// Builds the canonical envelope from what a dialect read (or nothing), the status and the headers: maps codes,
/// applies `expose_upstream_messages`, sanitises text and reads the retry hint. The one place that decides.
enum EnvelopeAssembler {
    /// At most this many `errors[]` items are carried over.
    static let maximumFieldErrors = 100
    /// At most this many suggestions.
    static let maximumSuggestions = 20

    static func assemble(
        status: Int, headers: HTTPFields, vendor: VendorError?, context: NormalizationContext
    ) -> ProblemDocument {
        let preset = Self.preset(of: context.upstream.dialect)
        let code = Self.canonicalCode(status: status, vendor: vendor, context: context, preset: preset)
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
                let field = item.field.flatMap { TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes) }
                let pointer = item.pointer.flatMap { TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes) }
                    ?? (item.isBodyField ? field.flatMap(FieldPath.pointer(forField:)) : nil)
                fieldErrors.append(ProblemDocument.FieldError(
                    detail: message ?? code.neutralDetail,
                    pointer: pointer,
                    field: field,
                    code: item.code.flatMap { TextSanitizer.clean($0, maximumBytes: TextSanitizer.maximumShortBytes) },
                    params: item.params))
            }
        }
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
            retryAfter: Self.retryAfter(status: status, headers: headers, code: code, vendor: vendor, context: context),
            suggestions: nil,
            params: vendor?.params)
        if show, let suggestions = vendor?.suggestions {
            let cleaned = suggestions.prefix(Self.maximumSuggestions).compactMap { TextSanitizer.clean($0) }
            document.suggestions = cleaned.isEmpty ? nil : cleaned
        }
        document.retryable = status >= 500 || (code != .quotaExceeded && code.isRetryable)
        return document
    }

    static func preset(of setting: DialectSetting) -> VendorPreset? {
        if case .builtin(let name) = setting { return VendorPreset.named(name) }
        return nil
    }

    /// Config `codes:` first, then the preset's table, then what the family's vocabulary implies, then common
    /// vendor codes; else the status class (with field errors, a plain 400 becomes `validation_failed`).
    static func canonicalCode(
        status: Int, vendor: VendorError?, context: NormalizationContext, preset: VendorPreset?
    ) -> ErrorCode {
        if let vendor {
            let candidates = [vendor.code, vendor.category].compactMap { $0 }
            for candidate in candidates {
                if let code = context.upstream.codes[candidate] { return code }
                if let code = preset?.codes[candidate] { return code }
            }
            if let implied = vendor.impliedCode { return implied }
            for candidate in candidates {
                if let code = CommonCodes.code(for: candidate) { return code }
            }
        }
        let byStatus = ErrorCode.forStatus(status)
        if byStatus == .badRequest, status == 400, vendor?.fieldErrors.contains(where: { $0.field != nil }) == true {
            return .validationFailed
        }
        return byStatus
    }

    /// `Retry-After` and the rate-limit headers (``RetryHint``); for `quota_exceeded`, `X-Quota-Reset` before the
    /// request-rate window's reset; else a wait the body states.
    static func retryAfter(
        status: Int, headers: HTTPFields, code: ErrorCode, vendor: VendorError?, context: NormalizationContext
    ) -> Int? {
        let now = context.nowUnixSeconds
        if code == .quotaExceeded {
            if let value = headers[.retryAfter], let seconds = RetryHint.retryAfter(value, nowUnixSeconds: now) {
                return seconds
            }
            if let value = headers[RetryHint.xQuotaReset], let seconds = RetryHint.reset(value, nowUnixSeconds: now) {
                return seconds
            }
        }
        return RetryHint.seconds(status: status, headers: headers, nowUnixSeconds: now) ?? vendor?.retryAfterSeconds
    }
}
