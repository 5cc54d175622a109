import GatewayCore

/// OAuth 2.0 error responses (RFC 6749 section 5.2, RFC 6750 section 3.1):
/// `{"error": "invalid_grant", "error_description", "error_uri"}`.
enum OAuth2Dialect: JSONDialect {
    static let name = "oauth2"
    static let summary = "OAuth 2.0 {error, error_description, error_uri} (RFC 6749 5.2, RFC 6750 3.1)"

    static let completeMembers: Set<String>? = ["error", "error_description", "error_uri"]

    static func recognise(_ document: JSONValue) -> Bool {
        guard let code = document["error"]?.nonEmptyString else { return false }
        return document["error_description"] != nil || document["error_uri"] != nil || Self.code(for: code) != nil
    }

    static func read(_ document: JSONValue) -> VendorError? {
        guard let code = document["error"]?.nonEmptyString else { return nil }
        var error = VendorError(dialectName: Self.name, code: code)
        error.message = document["error_description"]?.nonEmptyString
        error.impliedCode = Self.code(for: code)
        return error
    }

    /// The canonical code of a registered OAuth error. `invalid_grant` (an expired, revoked or foreign grant or
    /// refresh token) is read as `unauthenticated`: the client must obtain new credentials, not fix its request.
    static func code(for error: String) -> ErrorCode? {
        switch error {
        case "invalid_request", "unsupported_grant_type", "unsupported_response_type", "invalid_scope",
            "unsupported_token_type":
            return .badRequest
        case "invalid_client", "invalid_token", "invalid_grant", "login_required", "expired_token":
            return .unauthenticated
        case "unauthorized_client", "access_denied", "insufficient_scope", "consent_required":
            return .permissionDenied
        case "server_error": return .upstreamError
        case "temporarily_unavailable": return .upstreamUnavailable
        case "slow_down": return .rateLimited
        default: return nil
        }
    }
}
