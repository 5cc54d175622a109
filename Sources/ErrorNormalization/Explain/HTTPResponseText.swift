import GatewayCore
public import HTTPTypes

/// One HTTP response written out as text — a status line, header lines, a blank line, the body — as `gateway
/// explain` reads it from a file or standard input and as the error corpus stores its cases.
///
/// Lines may end in CRLF or LF (a response pasted from a terminal or a document has bare LFs). The status line is
/// `HTTP/1.1 404 Not Found` (any version, the reason phrase optional). The body is everything after the first
/// empty line, byte for byte.
public struct HTTPResponseText: Sendable {
    public var status: Int
    public var headers: HTTPFields
    public var body: [UInt8]

    /// Why a text is not a response, with the 1-based line it was found on.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(self.line): \(self.message)" }
    }

    public init(status: Int, headers: HTTPFields, body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Parses a response written out as text.
    public init(parsing bytes: [UInt8]) throws(ParseError) {
        var lines = LineReader(bytes)
        guard let statusLine = lines.next() else {
            throw ParseError(line: 1, message: "empty input: expected a status line such as 'HTTP/1.1 404 Not Found'")
        }
        let words = statusLine.text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard words.count >= 2, words[0].hasPrefix("HTTP/"), words[1].utf8.count == 3,
            let status = Int(words[1]), (100...999).contains(status)
        else {
            throw ParseError(
                line: 1,
                message:
                    "expected a status line such as 'HTTP/1.1 404 Not Found', found '\(statusLine.text.prefix(60))'")
        }
        var headers = HTTPFields()
        var bodyStart = bytes.count
        while let line = lines.next() {
            if line.text.isEmpty {
                bodyStart = line.end
                break
            }
            guard let colon = line.text.firstIndex(of: ":"),
                let name = HTTPField.Name(String(line.text[..<colon].trimmingASCIIWhitespace()))
            else {
                throw ParseError(
                    line: line.number, message: "expected a header line 'Name: value', found '\(line.text.prefix(60))'")
            }
            let value = String(line.text[line.text.index(after: colon)...].trimmingASCIIWhitespace())
            headers.append(HTTPField(name: name, value: value))
        }
        self.init(status: status, headers: headers, body: Array(bytes[bodyStart...]))
    }

    /// The lines of the head, each with its number and the offset just past its line ending.
    private struct LineReader {
        let bytes: [UInt8]
        var offset = 0
        var number = 0

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            // A UTF-8 byte order mark before the status line (an editor's) is not part of it.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { self.offset = 3 }
        }

        mutating func next() -> (text: Substring, number: Int, end: Int)? {
            guard self.offset < self.bytes.count else { return nil }
            var end = self.offset
            while end < self.bytes.count, self.bytes[end] != 0x0A { end += 1 }
            var textEnd = end
            if textEnd > self.offset, self.bytes[textEnd - 1] == 0x0D { textEnd -= 1 }
            let text = Substring(String(decoding: self.bytes[self.offset..<textEnd], as: UTF8.self))
            self.number += 1
            self.offset = min(end + 1, self.bytes.count)
            return (text, self.number, self.offset)
        }
    }
}
