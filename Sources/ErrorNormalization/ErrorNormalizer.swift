public import GatewayCore
public import HTTPTypes
public import NIOCore

/// Everything the normalizer needs to know about one response besides the response itself.
public struct NormalizationContext: Sendable {
    /// The upstream: its name, dialect, `codes` table and `errors_in_success`.
    public var upstream: UpstreamConfiguration
    /// The request path without its query (`instance`).
    public var instance: String
    public var requestID: String
    public var expose: ErrorsConfiguration.ExposeUpstreamMessages
    /// The current Unix time, injected, for `Retry-After` HTTP-dates and `*-Reset` timestamps.
    public var nowUnixSeconds: Int
    /// The normalizer reads at most this prefix of the body (and inflates at most this much).
    public var bodyLimit: Int

    public init(
        upstream: UpstreamConfiguration,
        instance: String,
        requestID: String,
        expose: ErrorsConfiguration.ExposeUpstreamMessages,
        nowUnixSeconds: Int,
        bodyLimit: Int = 64 * 1024
    ) {
        self.upstream = upstream
        self.instance = instance
        self.requestID = requestID
        self.expose = expose
        self.nowUnixSeconds = nowUnixSeconds
        self.bodyLimit = bodyLimit
    }
}

/// Rewrites upstream error responses into the canonical envelope (SPEC section 3).
///
/// Pure and total: no I/O, no throwing, no trapping on any input. Whatever the body is — a known dialect,
/// truncated JSON, an HTML page, binary garbage, a compression the gateway cannot undo — the result is a valid
/// ``ProblemDocument`` with the upstream's status.
public struct ErrorNormalizer: Sendable {
    public init() {}

    /// An upstream error response (status >= 400) as the canonical envelope.
    /// - Parameters:
    ///   - body: what was read of the body, at most `context.bodyLimit` bytes are looked at.
    ///   - bodyComplete: false when `body` is only a prefix of the body.
    public func normalize(
        status: Int, headers: HTTPFields, body: ByteBuffer, bodyComplete: Bool, context: NormalizationContext
    ) -> ProblemDocument {
        let vendor = BodyDecoder.decode(
            headers: headers, body: body, bodyComplete: bodyComplete, limit: context.bodyLimit
        ).flatMap { ShapeDetector.read($0, setting: context.upstream.dialect, status: status) }
        return EnvelopeAssembler.assemble(status: status, headers: headers, vendor: vendor, context: context)
    }

    /// ``normalize(status:headers:body:bodyComplete:context:)`` with the reasons for each member, for `gateway
    /// explain`: which reader matched, where in the body or headers each member came from, which rule set the code.
    public func explain(
        status: Int, headers: HTTPFields, body: ByteBuffer, bodyComplete: Bool, context: NormalizationContext
    ) -> (envelope: ProblemDocument, explanation: NormalizationExplanation) {
        let decoded = BodyDecoder.decode(
            headers: headers, body: body, bodyComplete: bodyComplete, limit: context.bodyLimit)
        var vendor: VendorError?
        var document: JSONValue?
        var envelope: ProblemDocument
        var decisions: EnvelopeAssembler.Decisions
        if status >= 400 {
            vendor = decoded.flatMap { ShapeDetector.read($0, setting: context.upstream.dialect, status: status) }
            (envelope, decisions) = EnvelopeAssembler.assembleExplained(
                status: status, headers: headers, vendor: vendor, context: context)
        } else if context.upstream.errorsInSuccess,
            let explained = self.successEnvelope(status: status, headers: headers, body: body, context: context)
        {
            (envelope, decisions, vendor) = explained
        } else {
            return (
                ProblemDocument(
                    code: .badRequest, status: status, detail: nil, instance: context.instance,
                    requestID: context.requestID, source: .upstream),
                NormalizationExplanation(
                    passesThrough: true,
                    lines: [
                        (
                            "result",
                            "status \(status) is not an error: the response passes through untouched"
                                + (context.upstream.errorsInSuccess ? " (no known error shape in the body)" : "")
                        )
                    ])
            )
        }
        if let decoded, decoded.isComplete { document = JSONReader.parse(decoded.bytes) }
        let explanation = NormalizationExplanation.build(
            envelope: envelope, vendor: vendor, decisions: decisions, document: document, decoded: decoded,
            headers: headers)
        return (envelope, explanation)
    }

    /// For `errors_in_success`: the envelope a 2xx body implies when it is unmistakably an error in a known dialect
    /// (Slack `{"ok": false, "error": …}`; GraphQL `errors` with no or null `data`), else nil. The envelope's
    /// status is the one the error implies; `upstream.status` stays the 2xx. The caller checks `errors_in_success`.
    public func normalizeSuccess(
        status: Int, headers: HTTPFields, body: ByteBuffer, context: NormalizationContext
    ) -> ProblemDocument? {
        self.successEnvelope(status: status, headers: headers, body: body, context: context)?.envelope
    }

    private func successEnvelope(
        status: Int, headers: HTTPFields, body: ByteBuffer, context: NormalizationContext
    ) -> (envelope: ProblemDocument, decisions: EnvelopeAssembler.Decisions, vendor: VendorError)? {
        guard
            let decoded = BodyDecoder.decode(
                headers: headers, body: body, bodyComplete: true, limit: context.bodyLimit),
            decoded.isComplete, let document = JSONReader.parse(decoded.bytes)
        else { return nil }
        var vendor: VendorError?
        if SlackDialect.recognise(document) {
            vendor = SlackDialect.read(document)
        } else if GraphQLDialect.isFailure(document) {
            vendor = GraphQLDialect.read(document)
        }
        guard var vendor else { return nil }
        if vendor.impliedCode == nil, vendor.dialectName == GraphQLDialect.name { vendor.impliedCode = .badRequest }
        let preset = EnvelopeAssembler.preset(of: context.upstream.dialect)
        let code = Classifier.classify(
            status: 0, headers: HTTPFields(), vendor: vendor, operatorCodes: context.upstream.codes, preset: preset
        ).code
        var (envelope, decisions) = EnvelopeAssembler.assembleExplained(
            status: code.typicalStatus, headers: headers, vendor: vendor, context: context, statusForCode: 0)
        envelope.upstream?.status = status
        envelope.upstream?.dialect = vendor.dialectName
        return (envelope, decisions, vendor)
    }

    /// Every built-in dialect and vendor preset with a one-line description (`gateway dialects`, config validation).
    public static let catalog: [(name: String, summary: String)] = DialectCatalog.entries
}
