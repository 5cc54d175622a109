import GatewayCore

/// XML error bodies: S3-style `<Error><Code/><Message/><RequestId/></Error>` and SOAP 1.1 / 1.2 faults.
enum XMLDialect {
    static let name = "xml"
    static let summary = "XML <Error><Code/><Message/></Error> (S3-style) and SOAP 1.1/1.2 faults"

    static func read(_ scanner: MarkupScanner) -> VendorError? {
        if let (start, end) = scanner.element(named: "Fault"),
            let fault = Self.readFault(MarkupScanner(Array(scanner.bytes[start..<end])))
        {
            return fault
        }
        let searchFrom = scanner.element(named: "Error").map { $0.0 } ?? 0
        var error = VendorError(dialectName: Self.name)
        error.code = scanner.text(ofElement: "Code", from: searchFrom)
            ?? scanner.text(ofElement: "ErrorCode", from: searchFrom)
            ?? scanner.attribute("code", ofElement: "Error")
        // AWS Query protocol: `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>…`.
        error.category = scanner.text(ofElement: "Type", from: searchFrom)
        // A `Detail` beside the `Message` is the specific one (QuickBooks: "Invalid Reference Id" / the reason).
        error.message = scanner.text(ofElement: "Detail", from: searchFrom)
            ?? scanner.text(ofElement: "Message", from: searchFrom)
            ?? scanner.text(ofElement: "ErrorMessage", from: searchFrom)
        return error.isEmpty ? nil : error
    }

    /// SOAP 1.1 `faultcode`/`faultstring`, SOAP 1.2 `Code/Value` (+ `Subcode/Value`) and `Reason/Text`.
    private static func readFault(_ fault: MarkupScanner) -> VendorError? {
        var error = VendorError(dialectName: Self.name)
        var faultCode: String?
        if let code = fault.text(ofElement: "faultcode") {
            faultCode = code
            error.message = fault.text(ofElement: "faultstring")
        } else if let (start, end) = fault.element(named: "Code") {
            let code = MarkupScanner(Array(fault.bytes[start..<end]))
            faultCode = code.text(ofElement: "Value")
            if let (subStart, subEnd) = code.element(named: "Subcode") {
                error.code = MarkupScanner(Array(code.bytes[subStart..<subEnd])).text(ofElement: "Value")
                    .map(Self.localName)
            }
            error.message = fault.text(ofElement: "Text") ?? fault.text(ofElement: "Reason")
        }
        if let faultCode {
            let local = Self.localName(faultCode)
            error.code = error.code ?? local
            switch local.split(separator: ".").first.map(String.init) ?? local {
            case "Client", "Sender": error.impliedCode = .badRequest
            case "Server", "Receiver": error.impliedCode = .upstreamError
            default: break
            }
            error.impliedFrom = error.code
            error.impliedOverridesStatus = error.impliedCode != nil
        }
        return error.isEmpty ? nil : error
    }

    private static func localName(_ qualified: String) -> String {
        qualified.split(separator: ":").last.map(String.init) ?? qualified
    }
}

/// Bodies that are not structured: HTML error pages (their `<title>` or first `<h1>`, never markup) and plain
/// text (its first non-empty line).
enum TextDialect {
    static let name = "text"
    static let summary = "HTML error pages (title only, never markup) and plain text (first line)"
    /// Plain-text messages are cut to this many characters before the general 1 KiB cap.
    static let maximumLineLength = 300

    static func readHTML(_ scanner: MarkupScanner) -> VendorError? {
        guard let title = scanner.text(ofElement: "title") ?? scanner.text(ofElement: "h1") else { return nil }
        return VendorError(dialectName: Self.name, message: title)
    }

    /// The first non-empty line, or nil when the bytes do not look like text (binary garbage).
    static func readPlain(_ bytes: [UInt8]) -> VendorError? {
        guard Self.looksLikeText(bytes) else { return nil }
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A, bytes[lineEnd] != 0x0D { lineEnd += 1 }
            let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
            let trimmed = line.drop(while: { $0.isWhitespace })
            if !trimmed.isEmpty {
                var text = String(trimmed.prefix(Self.maximumLineLength))
                while text.last?.isWhitespace == true { text.removeLast() }
                return VendorError(dialectName: Self.name, message: text)
            }
            lineStart = lineEnd + 1
        }
        return nil
    }

    /// No NUL, valid UTF-8 and few control characters in the first 512 bytes.
    static func looksLikeText(_ bytes: [UInt8]) -> Bool {
        let sample = TextSanitizer.scalarAlignedPrefix(bytes[...], maximumBytes: 512)
        var controls = 0
        for byte in sample {
            if byte == 0 { return false }
            if byte < 0x20, byte != 0x09, byte != 0x0A, byte != 0x0D { controls += 1 }
        }
        guard controls * 20 <= sample.count else { return false }
        var iterator = sample.makeIterator()
        var decoder = UTF8()
        var decoded = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: decoded += 1
            case .emptyInput: return decoded > 0
            case .error: return false
            }
        }
    }
}
