import GatewayCore
import HTTPTypes

/// Builds and validates the final response head from the lines curl's header callback hands over.
///
/// curl calls the header callback once per line, for every response on the transfer, interim 1xx ones included,
/// and is lenient where a proxy must not be: it passes two different `Content-Length`s, status 999, an unrequested
/// `101`, thousands of headers, a bare CR in a value, `Content-Length : 2`. So each line is checked against
/// RFC 9112 §2.2–§5 and RFC 9110 §5.5 here, before anything reaches the client:
/// - a new status line restarts the head; interim 1xx heads (100 Continue, 103 Early Hints) are dropped whole
///   (their fields never merge into the final head), except `101`, which the gateway never asks for;
/// - the final status is 200–599 (RFC 9110 §15; below 200 only 1xx exist and they are interim);
/// - a field line is `token ":" OWS value OWS` with no whitespace before the colon (RFC 9112 §5.1), no obs-fold
///   (§5.2), and a value of visible ASCII, SP, HTAB or obs-text only (no CR, NUL or other controls);
/// - several `Content-Length` values must agree (RFC 9112 §6.3);
/// - at most ``maximumFieldCount`` fields and ``maximumHeadBytes`` bytes of head, interim heads included.
///
/// Engine-thread only; one parser per transfer.
struct ResponseHeadParser: Sendable {
    /// What one line did to the head.
    enum LineResult: Sendable {
        /// Keep feeding lines.
        case needMore
        /// The final head ended with this line and is valid.
        case complete(UpstreamResponseHead)
        /// The head must not be passed on.
        case invalid(String)
    }

    static let maximumFieldCount = 256
    static let maximumHeadBytes = 64 * 1024

    private enum State {
        case expectingStatusLine
        case readingFields(status: Int, reason: String)
        case done
    }

    private var state: State = .expectingStatusLine
    private var fields = HTTPFields()
    private var fieldCount = 0
    private var headBytes = 0
    private var contentLength: UInt64?
    /// The current head's status line said `HTTP/2`.
    private var isHTTP2 = false

    init() {}

    /// Whether the final head has been parsed (later lines are trailers, which are ignored).
    var isComplete: Bool {
        if case .done = self.state { return true }
        return false
    }

    /// Feeds one line as curl delivers it, line ending included.
    mutating func receive(line: UnsafeRawBufferPointer) -> LineResult {
        switch self.state {
        case .done:
            return .needMore
        case .expectingStatusLine, .readingFields:
            break
        }
        self.headBytes += line.count
        if self.headBytes > Self.maximumHeadBytes {
            return .invalid("response head larger than \(Self.maximumHeadBytes) bytes")
        }
        var end = line.count
        if end > 0 && line[end - 1] == UInt8(ascii: "\n") {
            end -= 1
            if end > 0 && line[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        }
        let content = UnsafeRawBufferPointer(rebasing: line[0..<end])

        switch self.state {
        case .expectingStatusLine:
            return self.parseStatusLine(content)
        case .readingFields(let status, let reason):
            if content.isEmpty {
                return self.endOfHead(status: status, reason: reason)
            }
            return self.parseFieldLine(content)
        case .done:
            return .needMore
        }
    }

    private mutating func parseStatusLine(_ line: UnsafeRawBufferPointer) -> LineResult {
        // HTTP-version SP 3DIGIT SP [ reason-phrase ]   (RFC 9112 §4; the SP after the code is often omitted).
        // Over HTTP/2 curl writes the status as `HTTP/2 200 ` (RFC 9113 has no status line): 10 bytes at least.
        let prefixCount = 5  // "HTTP/"
        guard line.count >= 10, line[0] == UInt8(ascii: "H"), line[1] == UInt8(ascii: "T"),
            line[2] == UInt8(ascii: "T"), line[3] == UInt8(ascii: "P"), line[4] == UInt8(ascii: "/")
        else {
            return .invalid("malformed status line")
        }
        var index = prefixCount
        while index < line.count && line[index] != UInt8(ascii: " ") { index += 1 }
        self.isHTTP2 = index == prefixCount + 1 && line[prefixCount] == UInt8(ascii: "2")
        guard index + 4 <= line.count else { return .invalid("malformed status line") }
        var status = 0
        for digit in line[(index + 1)..<(index + 4)] {
            guard digit >= UInt8(ascii: "0") && digit <= UInt8(ascii: "9") else {
                return .invalid("malformed status code")
            }
            status = status * 10 + Int(digit - UInt8(ascii: "0"))
        }
        var reasonStart = index + 4
        if reasonStart < line.count {
            guard line[reasonStart] == UInt8(ascii: " ") else { return .invalid("malformed status line") }
            reasonStart += 1
        }
        var reason = ""
        if reasonStart < line.count {
            let reasonBytes = line[reasonStart...]
            guard reasonBytes.allSatisfy(HTTPSyntax.isFieldValueByte) else { return .invalid("invalid reason phrase") }
            reason = String(decoding: reasonBytes, as: UTF8.self)
        }
        self.state = .readingFields(status: status, reason: reason)
        self.fields = HTTPFields()
        self.fields.reserveCapacity(16)  // a typical head's fields, without growing the storage field by field
        self.fieldCount = 0
        self.contentLength = nil
        return .needMore
    }

    private mutating func parseFieldLine(_ line: UnsafeRawBufferPointer) -> LineResult {
        let first = line[0]
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
            return .invalid("obsolete line folding")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else {
            return .invalid("field line without a name")
        }
        let nameBytes = line[0..<colon]
        guard nameBytes.allSatisfy(HTTPSyntax.isTokenByte) else {
            return .invalid("invalid field name")
        }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd && (line[valueStart] == UInt8(ascii: " ") || line[valueStart] == UInt8(ascii: "\t"))
        {
            valueStart += 1
        }
        while valueEnd > valueStart
            && (line[valueEnd - 1] == UInt8(ascii: " ") || line[valueEnd - 1] == UInt8(ascii: "\t"))
        {
            valueEnd -= 1
        }
        let valueBytes = line[valueStart..<valueEnd]
        var isASCII = true
        for byte in valueBytes {
            guard HTTPSyntax.isFieldValueByte(byte) else { return .invalid("invalid byte in a field value") }
            if byte >= 0x80 { isASCII = false }
        }
        self.fieldCount += 1
        if self.fieldCount > Self.maximumFieldCount {
            return .invalid("more than \(Self.maximumFieldCount) header fields")
        }
        guard
            let name = CommonFieldNames.name(UnsafeRawBufferPointer(rebasing: nameBytes))
                ?? HTTPField.Name(String(decoding: nameBytes, as: UTF8.self))
        else {
            return .invalid("invalid field name")
        }
        if name == .contentLength {
            guard self.recordContentLength(valueBytes) else { return .invalid("conflicting or invalid Content-Length") }
        }
        // An ASCII value (nearly all) is made as a string at once; obs-text keeps HTTPTypes' byte path and meaning.
        let field =
            isASCII
            ? HTTPField(
                name: name, value: String(decoding: UnsafeRawBufferPointer(rebasing: valueBytes), as: UTF8.self))
            : HTTPField(name: name, value: valueBytes)
        self.fields.append(field)
        return .needMore
    }

    /// Accepts `Content-Length: n` and the list form `n, n`; every value seen on the head must be the same.
    private mutating func recordContentLength(_ value: UnsafeRawBufferPointer.SubSequence) -> Bool {
        for element in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
            let trimmed = element.drop(while: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            var number: UInt64 = 0
            var digits = 0
            for byte in trimmed {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { break }
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"), digits < 19 else { return false }
                number = number * 10 + UInt64(byte - UInt8(ascii: "0"))
                digits += 1
            }
            guard digits > 0 else { return false }
            if let known = self.contentLength, known != number { return false }
            self.contentLength = number
        }
        return true
    }

    private mutating func endOfHead(status: Int, reason: String) -> LineResult {
        switch status {
        case 101:
            return .invalid("unrequested 101 Switching Protocols")
        case 100...199:
            // Interim response: forget it entirely; the next status line starts the real head.
            self.state = .expectingStatusLine
            self.fields = HTTPFields()
            self.fieldCount = 0
            self.contentLength = nil
            return .needMore
        case 200...599:
            self.state = .done
            if let problem = Self.relabelTransferCodings(&self.fields) { return .invalid(problem) }
            let head = UpstreamResponseHead(
                status: status, reason: reason, headers: self.fields, isHTTP2: self.isHTTP2)
            self.fields = HTTPFields()
            return .complete(head)
        default:
            return .invalid("status code \(status) out of range")
        }
    }

    /// The transfer codings curl passes on undecoded, which are also content codings (RFC 9110 §8.4.1).
    static let relabelledCodings: Set<String> = ["gzip", "x-gzip", "deflate", "compress", "x-compress"]

    /// Makes a head's transfer codings visible to the client. curl decodes only `chunked` (the gateway never sets
    /// `CURLOPT_TRANSFER_ENCODING`): a body sent with `Transfer-Encoding: gzip` reaches the gateway as raw gzip,
    /// delimited by the connection's close, and `Transfer-Encoding` is hop-by-hop, so relaying it as is would hand
    /// the client compressed bytes it has no way to recognise. A coding that is also a content coding is therefore
    /// appended to `Content-Encoding` (after the codings already there: the order they were applied in), and
    /// `Transfer-Encoding` and `Content-Length` (which RFC 9112 §6.3 says to ignore beside it) are dropped.
    /// - Returns: why the head cannot be relayed (a coding nobody downstream could undo), or nil.
    static func relabelTransferCodings(_ fields: inout HTTPFields) -> String? {
        // Nearly every head has none: answered without making a list.
        guard fields.contains(where: { $0.name == .transferEncoding }) else { return nil }
        let values = fields[fields: .transferEncoding].map(\.value)
        var codings = values.flatMap { $0.split(separator: ",") }.map {
            $0.trimmingASCIIWhitespace().lowercased()
        }.filter { !$0.isEmpty }
        if codings.last == "chunked" { codings.removeLast() }  // curl decoded it
        guard !codings.isEmpty else { return nil }
        for coding in codings where !Self.relabelledCodings.contains(coding) {
            return "unsupported transfer coding '\(coding.prefix(32))'"
        }
        let content = fields[fields: .contentEncoding].map(\.value).filter { !$0.isEmpty }
        fields[.transferEncoding] = nil
        fields[.contentLength] = nil
        fields[.contentEncoding] = (content + codings).joined(separator: ", ")
        return nil
    }
}
