import GatewayCore

/// A vendor preset: a family plus the vendor's documented code table and header conventions
/// (SPEC section 3, "Dialects"; the tables come from each vendor's error page in `seeds/`).
struct VendorPreset: Sendable {
    var name: String
    /// The family tried first; the others are still recognised (stemp also answers in OAuth2).
    var family: String
    var summary: String
    /// Vendor code -> canonical code. The config's `codes:` table overrides these.
    var codes: [String: ErrorCode]
    /// The vendor sends `X-Quota-*` headers: a `quota_exceeded` waits for `X-Quota-Reset`.
    var usesQuotaHeaders: Bool = false

    static let dokstamp = VendorPreset(
        name: "dokstamp", family: LaravelDialect.name,
        summary: "Dokstamp: Laravel {success:false, message, errors:{field:[messages]}}; status decides the code",
        codes: [:])

    static let certifier = VendorPreset(
        name: "certifier", family: NestedErrorDialect.name,
        summary: "Certifier: {error:{code, message}} with Certifier's fixed code table (code before status)",
        codes: [
            "bad_request": .badRequest,
            "missing_version": .badRequest,
            "invalid_version": .badRequest,
            "invalid_json": .badRequest,
            "validation_error": .validationFailed,
            "unauthorized": .unauthenticated,
            "payment_required": .paymentRequired,
            "forbidden": .permissionDenied,
            "not_found": .notFound,
            "conflict": .conflict,
            "rate_limited": .rateLimited,
            "internal_server_error": .upstreamError,
        ])

    static let docyard = VendorPreset(
        name: "docyard", family: NestJSDialect.name,
        summary: "Docyard: NestJS {statusCode, message: string | [strings], error}; Retry-After on 429",
        codes: [:])

    static let dokai = VendorPreset(
        name: "dokai", family: NestedErrorDialect.name,
        summary: "Dokai: {error:{code, message, type, suggestions}}; X-RateLimit-* and X-Quota-* (Unix time)",
        codes: [
            "invalid_api_key": .unauthenticated,
            "key_expired": .unauthenticated,
            "unauthorized": .unauthenticated,
            "forbidden": .permissionDenied,
            "not_found": .notFound,
            "result_expired": .gone,
            "validation_error": .validationFailed,
            "invalid_file_type": .validationFailed,
            "file_too_large": .validationFailed,
            "invalid_document_type": .validationFailed,
            "invalid_document_brand": .validationFailed,
            "webhook_invalid_url": .validationFailed,
            "webhook_domain_not_allowed": .validationFailed,
            "quota_exceeded": .quotaExceeded,
            "rate_limited": .rateLimited,
            "processing_failed": .upstreamError,
            "ocr_failed": .upstreamError,
            "internal_error": .upstreamError,
        ],
        usesQuotaHeaders: true)

    static let stemp = VendorPreset(
        name: "stemp", family: FieldMapDialect.name,
        summary: "stemp: {code, params}, STANDARD_VALIDATION / CUSTOM_VALIDATION maps, OAuth2 errors; Retry-After",
        codes: [
            "resource_not_found": .notFound,
            "access_denied": .permissionDenied,
            "wrong_param_type": .badRequest,
            "invitation_already_exists": .conflict,
            "email_already_exists": .conflict,
            "STANDARD_VALIDATION": .validationFailed,
            "CUSTOM_VALIDATION": .validationFailed,
            "invalid_request": .badRequest,
            "invalid_client": .unauthenticated,
            "invalid_grant": .unauthenticated,
            "invalid_scope": .badRequest,
            "unauthorized_client": .permissionDenied,
        ])

    static let all: [VendorPreset] = [.dokstamp, .certifier, .docyard, .dokai, .stemp]

    static func named(_ name: String) -> VendorPreset? {
        Self.all.first { $0.name == name }
    }
}

/// Vendor codes whose meaning is plain whatever the vendor: the family knowledge applied when neither the config
/// nor a preset knows a code. Keys are compared lowercased with `_`, `-`, `.` and spaces removed, so
/// `not_found`, `NotFound`, `NOT-FOUND` and S3's `NoSuchKey` style all meet one entry.
enum CommonCodes {
    static func code(for vendorCode: String) -> ErrorCode? {
        var key = ""
        key.reserveCapacity(vendorCode.utf8.count)
        for scalar in vendorCode.unicodeScalars {
            switch scalar {
            case "_", "-", ".", " ": continue
            default: key.unicodeScalars.append(scalar.properties.lowercaseMapping.unicodeScalars.first ?? scalar)
            }
        }
        return Self.table[key]
    }

    private static let table: [String: ErrorCode] = {
        var table: [String: ErrorCode] = [:]
        func add(_ code: ErrorCode, _ names: [String]) {
            for name in names { table[name] = code }
        }
        for code in ErrorCode.all { table[code.rawValue.replacingUnderscores()] = code }
        // The gateway's own codes mean something else when a vendor sends them.
        table["internalerror"] = .upstreamError
        table["serviceunavailable"] = .upstreamUnavailable
        add(.badRequest, ["invalidrequest", "invalidjson", "malformedrequest", "invalidargument", "invalidparameter"])
        add(
            .validationFailed,
            [
                "validationerror", "validation", "invalidparams", "unprocessableentity", "invalidinput", "baduserinput",
            ])
        add(
            .unauthenticated,
            [
                "unauthorized", "unauthorised", "notauthenticated", "authenticationerror", "authenticationfailed",
                "invalidapikey", "invalidtoken", "tokenexpired", "expiredtoken", "invalidaccesskeyid",
                "signaturedoesnotmatch", "invalidcredentials", "missingapikey",
            ])
        add(.permissionDenied, ["forbidden", "accessdenied", "permissiondenied", "insufficientpermissions"])
        add(.notFound, ["resourcenotfound", "notfound", "nosuchkey", "nosuchbucket", "nosuchresource", "nosuchupload"])
        add(.conflict, ["alreadyexists", "duplicate", "resourceexists", "bucketalreadyexists"])
        add(
            .rateLimited,
            [
                "ratelimited", "ratelimit", "ratelimitexceeded", "toomanyrequests", "throttled", "throttling",
                "slowdown", "resourceexhausted",
            ])
        add(.paymentRequired, ["insufficientfunds", "paymentrequired"])
        add(.payloadTooLarge, ["entitytoolarge", "requestentitytoolarge"])
        add(.upstreamError, ["internalservererror", "servererror", "internal", "unknownerror"])
        add(.upstreamUnavailable, ["unavailable", "temporarilyunavailable"])
        add(.upstreamTimeout, ["gatewaytimeout", "deadlineexceeded"])
        return table
    }()
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(self.unicodeScalars.filter { $0 != "_" }.map(Character.init))
    }
}
