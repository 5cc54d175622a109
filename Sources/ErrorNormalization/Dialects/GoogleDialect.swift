import GatewayCore

/// Google APIs (AIP-193): `{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT", "details": [...]}}`.
enum GoogleDialect: JSONDialect {
    static let name = "google"
    static let summary = "Google AIP-193 {error:{code, message, status, details:[BadRequest, RetryInfo…]}}"

    static func recognise(_ document: JSONValue) -> Bool {
        guard let status = document["error"]?["status"]?.nonEmptyString else { return false }
        return status.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_")
        }
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard let inner = document["error"], inner.objectMembers != nil else { return nil }
        var error = VendorError(dialectName: Self.name)
        let status = inner["status"]?.nonEmptyString
        error.message = inner["message"]?.nonEmptyString
        var reason: String?
        var hasRetryInfo = false
        for detail in inner["details"]?.arrayItems ?? [] {
            let type = detail["@type"]?.nonEmptyString ?? ""
            if type.hasSuffix("BadRequest") {
                for violation in detail["fieldViolations"]?.arrayItems ?? [] {
                    guard let message = violation["description"]?.nonEmptyString else { continue }
                    error.fieldErrors.append(
                        VendorError.FieldError(
                            field: violation["field"]?.nonEmptyString, message: message,
                            code: violation["reason"]?.nonEmptyString))
                }
            } else if type.hasSuffix("RetryInfo"), let delay = detail["retryDelay"]?.nonEmptyString {
                error.retryAfterSeconds = Self.seconds(ofDuration: delay)
                hasRetryInfo = true
            } else if type.hasSuffix("ErrorInfo"), let found = detail["reason"]?.nonEmptyString {
                reason = found
            }
        }
        // AIP-193: `ErrorInfo.reason` is the most specific code; the status is the category. An identifier sent
        // as the message (Firebase's `TOKEN_EXPIRED`) is more specific than the status too.
        error.code = reason ?? error.message.flatMap(VendorError.leadingIdentifier(of:)) ?? status
        if let status, status != error.code { error.category = status }
        if let status {
            error.impliedFrom = status
            error.impliedCode = Self.code(
                forStatus: status, hasFieldErrors: !error.fieldErrors.isEmpty, hasRetryInfo: hasRetryInfo,
                message: error.message)
        }
        return error.isEmpty ? nil : error
    }

    /// The canonical code of a `google.rpc.Code` name.
    /// `RESOURCE_EXHAUSTED` is both a rate limit and a spent quota: with a `RetryInfo` it comes back soon (a rate
    /// limit, whatever the message calls it); without one, a message about the quota or billing says it does not.
    static func code(
        forStatus status: String, hasFieldErrors: Bool, hasRetryInfo: Bool = false, message: String? = nil
    ) -> ErrorCode? {
        if status == "RESOURCE_EXHAUSTED", !hasRetryInfo, let message,
            VocabularyMatcher.messages.saysQuota(message)
        {
            return .quotaExceeded
        }
        switch status {
        case "INVALID_ARGUMENT": return hasFieldErrors ? .validationFailed : .badRequest
        case "OUT_OF_RANGE", "CANCELLED": return .badRequest
        case "FAILED_PRECONDITION": return .preconditionFailed
        case "UNAUTHENTICATED": return .unauthenticated
        case "PERMISSION_DENIED": return .permissionDenied
        case "NOT_FOUND": return .notFound
        case "ALREADY_EXISTS", "ABORTED": return .conflict
        case "RESOURCE_EXHAUSTED": return .rateLimited
        case "UNAVAILABLE": return .upstreamUnavailable
        case "DEADLINE_EXCEEDED": return .upstreamTimeout
        case "INTERNAL", "UNKNOWN", "DATA_LOSS", "UNIMPLEMENTED": return .upstreamError
        default: return nil
        }
    }

    /// Whole seconds (rounded up) of a protobuf JSON duration such as `30s` or `1.5s`.
    static func seconds(ofDuration text: String) -> Int? {
        guard text.hasSuffix("s") else { return nil }
        let number = text.dropLast()
        let parts = number.split(separator: ".", maxSplits: 1)
        guard let whole = parts.first.flatMap({ Int($0) }), whole >= 0 else { return nil }
        let fraction = parts.count == 2 && parts[1].contains(where: { $0 != "0" }) ? 1 : 0
        return whole + fraction
    }
}
