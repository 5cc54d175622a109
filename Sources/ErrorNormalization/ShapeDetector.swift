import GatewayCore

/// Chooses the dialect that reads a decoded body: the configured one first, then (always, so a vendor's odd
/// endpoint still gets read) recognition of every family under `auto`.
enum ShapeDetector {
    /// JSON families in the order `auto` asks them; earlier ones have the more specific signatures.
    static let jsonFamilies: [any JSONDialect.Type] = [
        GraphQLDialect.self, JSONAPIDialect.self, ProblemJSONDialect.self, GoogleDialect.self,
        NestedErrorDialect.self, OAuth2Dialect.self, LaravelDialect.self, NestJSDialect.self,
        FieldMapDialect.self, SlackDialect.self,
    ]

    static func jsonFamily(named name: String) -> (any JSONDialect.Type)? {
        if name == GenericDialect.name || name == GenericDialect.formerName { return GenericDialect.self }
        return Self.jsonFamilies.first { $0.name == name }
    }

    /// What the body says, or nil when nothing could be read.
    static func read(_ body: BodyDecoder.Decoded, setting: DialectSetting, status: Int?) -> VendorError? {
        var index = 0
        let bytes = body.bytes
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A
                || bytes[index] == 0x0D
        {
            index += 1
        }
        guard index < bytes.count else { return nil }
        var first = bytes[index]
        if first == 0xEF, bytes.count - index >= 4, bytes[index + 1] == 0xBB, bytes[index + 2] == 0xBF {
            first = bytes[index + 3]
        }
        if first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            guard body.isComplete, let document = JSONReader.parse(bytes) else { return nil }
            return Self.readJSON(document, setting: setting, mediaType: body.mediaType, status: status)
        }
        if first == UInt8(ascii: "<") {
            let scanner = MarkupScanner(bytes)
            if Self.isHTML(bytes, mediaType: body.mediaType) { return TextDialect.readHTML(scanner) }
            return XMLDialect.read(scanner) ?? TextDialect.readHTML(scanner)
        }
        return TextDialect.readPlain(bytes)
    }

    /// The configured dialect, else the first family that recognises the document, else the generic reader; what
    /// a family left out (its code, message, a stated wait) is then looked for anywhere in the document.
    static func readJSON(
        _ document: JSONValue, setting: DialectSetting, mediaType: String, status: Int?
    ) -> VendorError? {
        switch setting {
        case .auto:
            break
        case .mapping(let mapping):
            if let error = MappingDialect.read(document, mapping: mapping) { return error }
        case .builtin(let name):
            let familyName = VendorPreset.named(name)?.family ?? name
            if let family = Self.jsonFamily(named: familyName), family.recognise(document) || family.name == name,
                let error = family.read(document)
            {
                return Self.enriched(error, from: document, status: status, family: family)
            }
        }
        if mediaType == "application/problem+json", let error = ProblemJSONDialect.read(document) {
            return Self.enriched(error, from: document, status: status)
        }
        for family in Self.jsonFamilies where family.recognise(document) {
            if let error = family.read(document) {
                return Self.enriched(error, from: document, status: status, family: family)
            }
        }
        guard var error = GenericDialect.read(document, status: status) else { return nil }
        error.settle(status: status)
        return error
    }

    private static func enriched(
        _ error: VendorError, from document: JSONValue, status: Int?, family: (any JSONDialect.Type)? = nil
    ) -> VendorError {
        var error = error
        // A status repeated as a code is none; an identifier sent as the message (`EMAIL_EXISTS`) is a more specific
        // code than any the generic reader would find elsewhere.
        error.settleCode(status: status)
        let readInFull =
            family?.completeMembers.map { known in
                document.objectMembers?.allSatisfy { known.contains($0.key) } ?? false
            } ?? false
        if !readInFull { GenericDialect.enrich(&error, from: document, status: status) }
        error.settle(status: status)
        return error
    }

    private static func isHTML(_ bytes: [UInt8], mediaType: String) -> Bool {
        if mediaType == "text/html" || mediaType == "application/xhtml+xml" { return true }
        if mediaType.hasSuffix("xml") { return false }
        let head = String(decoding: bytes.prefix(256), as: UTF8.self).lowercased()
        return head.contains("<!doctype html") || head.contains("<html") || head.contains("<head")
            || head.contains("<body") || head.contains("<title")
    }
}
