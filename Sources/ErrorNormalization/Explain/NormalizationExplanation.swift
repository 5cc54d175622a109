import GatewayCore
import HTTPTypes

/// Why the normalizer produced what it did, member by member: the lines `gateway explain` prints under the
/// envelope. Built only on request; the proxy path never pays for it.
public struct NormalizationExplanation: Sendable {
    /// True when the response is not an error and would pass through untouched.
    public var passesThrough: Bool
    /// `(member, reason)` in the order they are printed.
    public var lines: [(member: String, reason: String)]

    init(passesThrough: Bool = false, lines: [(member: String, reason: String)]) {
        self.passesThrough = passesThrough
        self.lines = lines
    }

    static func build(
        envelope: ProblemDocument, vendor: VendorError?, decisions: EnvelopeAssembler.Decisions,
        document: JSONValue?, decoded: BodyDecoder.Decoded?, headers: HTTPFields
    ) -> NormalizationExplanation {
        var lines: [(member: String, reason: String)] = []
        let reader: String
        switch (decoded, vendor) {
        case (nil, _):
            reader = "the body could not be decoded (Content-Encoding or charset unknown): status and headers only"
        case (let decoded?, nil):
            reader =
                decoded.bytes.isEmpty
                ? "empty body: status and headers only"
                : "no reader understood the body (\(decoded.mediaType.isEmpty ? "no Content-Type" : decoded.mediaType)"
                    + (decoded.isComplete ? "" : ", cut at the read limit") + "): status and headers only"
        case (_, let vendor?):
            reader = Self.readerSentence(vendor.dialectName)
        }
        lines.append(("reader", reader))
        lines.append(("code", "\(envelope.code.rawValue): \(decisions.rule)"))
        if let code = envelope.upstream?.code {
            lines.append(
                ("upstream.code", "'\(code)' " + Self.origin(ofCode: code, in: document, decisions: decisions)))
        } else {
            lines.append(("upstream.code", "null: no machine code found in the body or headers"))
        }
        if let message = vendor?.message, envelope.detail != envelope.code.neutralDetail {
            lines.append(("detail", Self.origin(ofText: message, in: document, decisions: decisions)))
        } else if vendor?.message != nil {
            lines.append(
                ("detail", "the code's neutral sentence: the vendor's text is hidden by expose_upstream_messages"))
        } else {
            lines.append(("detail", "the code's neutral sentence: the vendor gave no message for the whole error"))
        }
        if let first = vendor?.fieldErrors.first, !envelope.errors.isEmpty {
            let place =
                document.flatMap { $0.pointer(toLeaf: first.message) }.map { "the first at \($0)" }
                ?? "the first from the message text"
            lines.append(("errors", "\(envelope.errors.count) field error(s); \(place)"))
        }
        switch decisions.retryAfter {
        case .header(let field)?:
            lines.append(("retry_after", "\(envelope.retryAfter ?? 0) s from header \(field)"))
        case .body?:
            lines.append(("retry_after", "\(envelope.retryAfter ?? 0) s stated in the body (no header said)"))
        case nil:
            lines.append(("retry_after", "absent: neither headers nor body say how long to wait"))
        }
        let retryable: String
        if envelope.status >= 500 {
            retryable = "true: every 5xx may succeed later"
        } else if envelope.code == .quotaExceeded {
            retryable = "false: a spent quota does not come back by retrying (retry_after says when it resets)"
        } else {
            retryable =
                "\(envelope.retryable): \(envelope.code.rawValue) is \(envelope.retryable ? "" : "not ")retryable"
        }
        lines.append(("retryable", retryable))
        return NormalizationExplanation(lines: lines)
    }

    private static func readerSentence(_ dialect: String) -> String {
        switch dialect {
        case GenericDialect.name:
            return "generic: no family recognised the body; keys scored at every depth"
        case TextDialect.name:
            return "text: an HTML page's title or a plain-text body's first line"
        case XMLDialect.name:
            return "xml: <Error><Code/><Message/></Error> or a SOAP fault"
        case MappingDialect.name:
            return "mapping: the JSON Pointers of the upstream's dialect in the config"
        default:
            return "\(dialect): the body has this family's shape"
        }
    }

    private static func origin(ofCode code: String, in document: JSONValue?, decisions: EnvelopeAssembler.Decisions)
        -> String
    {
        if decisions.bearer?.error == code { return "from WWW-Authenticate: Bearer error=" }
        if decisions.codeFromHeader == code { return "from header x-amzn-ErrorType" }
        if let pointer = document?.pointer(toLeaf: code) { return "from \(pointer)" }
        if let pointer = document?.pointer(toLeafEndingWith: "#" + code) { return "from \(pointer), namespace dropped" }
        return "from the body's markup or text"
    }

    private static func origin(ofText text: String, in document: JSONValue?, decisions: EnvelopeAssembler.Decisions)
        -> String
    {
        if decisions.bearer?.description == text { return "from WWW-Authenticate: Bearer error_description=" }
        if let pointer = document?.pointer(toLeaf: text) { return "the vendor's message at \(pointer)" }
        return "the vendor's message from the body's markup or text"
    }
}

extension JSONValue {
    /// The JSON Pointer of the first string or number (depth first) whose text is `text`.
    func pointer(toLeaf text: String) -> String? {
        self.pointer { $0 == text }
    }

    func pointer(toLeafEndingWith suffix: String) -> String? {
        self.pointer { $0.hasSuffix(suffix) }
    }

    private func pointer(where matches: (String) -> Bool) -> String? {
        var path: [String] = []
        func search(_ value: JSONValue) -> Bool {
            switch value {
            case .string(let leaf), .number(let leaf):
                return matches(leaf)
            case .array(let items):
                for (index, item) in items.enumerated() {
                    path.append(String(index))
                    if search(item) { return true }
                    path.removeLast()
                }
            case .object(let members):
                for member in members {
                    path.append(member.key)
                    if search(member.value) { return true }
                    path.removeLast()
                }
            default:
                break
            }
            return false
        }
        guard search(self) else { return nil }
        return path.isEmpty ? "the whole body" : String(FieldPath.pointer(segments: path).dropFirst())
    }
}
