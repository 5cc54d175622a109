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
        error.code =
            scanner.text(ofElement: "Code", from: searchFrom)
            ?? scanner.text(ofElement: "ErrorCode", from: searchFrom)
            ?? scanner.attribute("code", ofElement: "Error")
        // AWS Query protocol: `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>…`.
        error.category = scanner.text(ofElement: "Type", from: searchFrom)
        // A `Detail` beside the `Message` is the specific one (QuickBooks: "Invalid Reference Id" / the reason).
        error.message =
            scanner.text(ofElement: "Detail", from: searchFrom)
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
