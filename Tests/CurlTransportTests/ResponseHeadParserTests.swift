import GatewayCore
import GatewayTestSupport
import HTTPTypes
import Testing

@testable import CurlTransport

/// Head validation over lines as curl's header callback delivers them.
@Suite struct ResponseHeadParserTests {
    enum Outcome: Equatable {
        case complete(status: Int, reason: String, fields: [String])
        case invalid
        case incomplete
    }

    private func parse(_ lines: [String]) -> Outcome {
        self.parse(lines.map { Array($0.utf8) })
    }

    private func parse(_ lines: [[UInt8]]) -> Outcome {
        var parser = ResponseHeadParser()
        for line in lines {
            let result = line.withUnsafeBytes { parser.receive(line: $0) }
            switch result {
            case .needMore:
                continue
            case .invalid:
                return .invalid
            case .complete(let head):
                return .complete(
                    status: head.status,
                    reason: head.reason,
                    fields: head.headers.map { "\($0.name.rawName): \($0.value)" }
                )
            }
        }
        return .incomplete
    }

    @Test func aPlainHeadParses() {
        let outcome = self.parse(["HTTP/1.1 200 OK\r\n", "Content-Type: text/plain\r\n", "X-A:  spaced \r\n", "\r\n"])
        #expect(outcome == .complete(status: 200, reason: "OK", fields: ["Content-Type: text/plain", "X-A: spaced"]))
    }

    /// Names in the parser's table of common names are reused, not made again; the head must not tell: every spelling
    /// (the table's two, and any other) keeps the upstream's bytes and compares by its canonical name.
    @Test func commonNamesKeepTheUpstreamsSpelling() {
        let names = ["Content-Type", "content-type", "CONTENT-TYPE", "Content-type", "ETag", "etag", "X-Custom"]
        var lines = ["HTTP/1.1 200 OK\r\n"]
        for (index, name) in names.enumerated() { lines.append("\(name): \(index)\r\n") }
        lines.append("\r\n")
        var parser = ResponseHeadParser()
        var head: UpstreamResponseHead?
        for line in lines {
            if case .complete(let parsed) = Array(line.utf8).withUnsafeBytes({ parser.receive(line: $0) }) {
                head = parsed
            }
        }
        let fields = try! #require(head).headers
        #expect(fields.map(\.name.rawName) == names)
        #expect(fields.map(\.name.canonicalName) == names.map { $0.lowercased() })
        #expect(fields[fields: .contentType].map(\.value) == ["0", "1", "2", "3"])
        #expect(fields[fields: .eTag].map(\.value) == ["4", "5"])
    }

    /// The table finds each name in its usual and its lower-case spelling, and nothing else.
    @Test func theCommonNamesTableFindsExactSpellingsOnly() {
        for spelling in CommonFieldNames.spellings {
            for form in [spelling, spelling.lowercased()] {
                let found = Array(form.utf8).withUnsafeBytes { CommonFieldNames.name($0) }
                #expect(found?.rawName == form, "\(form)")
                #expect(found == HTTPField.Name(form), "\(form)")
            }
            let shouted = spelling.uppercased()
            if shouted != spelling {
                #expect(Array(shouted.utf8).withUnsafeBytes { CommonFieldNames.name($0) } == nil, "\(shouted)")
            }
        }
        #expect(Array("X-Not-Common".utf8).withUnsafeBytes { CommonFieldNames.name($0) } == nil)
        #expect(Array(repeating: UInt8(ascii: "a"), count: 300).withUnsafeBytes { CommonFieldNames.name($0) } == nil)
        #expect([UInt8]().withUnsafeBytes { CommonFieldNames.name($0) } == nil)
    }

    @Test func aStatusLineWithoutReasonAndBareLFEndingsParse() {
        #expect(self.parse(["HTTP/1.1 204\n", "\n"]) == .complete(status: 204, reason: "", fields: []))
    }

    /// Over HTTP/2 curl writes `HTTP/2 200 ` (no reason phrase; RFC 9113 has no status line), shorter than any
    /// HTTP/1.1 status line: it must parse, and say HTTP/2.
    @Test func anHTTP2StatusLineParsesAndIsMarked() {
        var parser = ResponseHeadParser()
        var head: UpstreamResponseHead?
        for line in ["HTTP/2 200 \r\n", "content-type: text/plain\r\n", "\r\n"] {
            if case .complete(let complete) = Array(line.utf8).withUnsafeBytes({ parser.receive(line: $0) }) {
                head = complete
            }
        }
        #expect(head?.status == 200)
        #expect(head?.isHTTP2 == true)
        #expect(self.parse(["HTTP/2 404\r\n", "\r\n"]) == .complete(status: 404, reason: "", fields: []))
        var http1 = ResponseHeadParser()
        _ = Array("HTTP/1.1 200 OK\r\n".utf8).withUnsafeBytes { http1.receive(line: $0) }
        guard case .complete(let plain) = Array("\r\n".utf8).withUnsafeBytes({ http1.receive(line: $0) }) else {
            Issue.record("HTTP/1.1 head incomplete")
            return
        }
        #expect(plain.isHTTP2 == false)
        #expect(self.parse(["HTTP/2 20\r\n", "\r\n"]) == .invalid)
    }

    @Test func interimHeadsAreDroppedWhole() {
        let outcome = self.parse([
            "HTTP/1.1 100 Continue\r\n", "\r\n",
            "HTTP/1.1 103 Early Hints\r\n", "Link: </a.css>; rel=preload\r\n", "\r\n",
            "HTTP/1.1 201 Created\r\n", "Location: /x\r\n", "\r\n",
        ])
        #expect(outcome == .complete(status: 201, reason: "Created", fields: ["Location: /x"]))
    }

    @Test(arguments: [
        ["HTTP/1.1 999 Weird\r\n", "\r\n"],
        ["HTTP/1.1 099 Low\r\n", "\r\n"],
        ["HTTP/1.1 101 Switching Protocols\r\n", "Upgrade: websocket\r\n", "\r\n"],
        ["HTTP/1.1 2x0 OK\r\n", "\r\n"],
        ["GARBAGE\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "Content-Length: 2\r\n", "Content-Length: 3\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "Content-Length: 2, 3\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "Content-Length: -1\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "Content-Length : 2\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "X-A: a\rb\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "X-A: a\u{0}b\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "X-A: a\u{1}b\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "X-A: a\r\n", " folded\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "Bad Name: a\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", ": a\r\n", "\r\n"],
        ["HTTP/1.1 200 OK\r\n", "no colon\r\n", "\r\n"],
    ])
    func invalidHeadsAreRefused(lines: [String]) {
        #expect(self.parse(lines) == .invalid)
    }

    @Test func repeatedEqualContentLengthsAreAccepted() {
        let outcome = self.parse(["HTTP/1.1 200 OK\r\n", "Content-Length: 3\r\n", "Content-Length: 3\r\n", "\r\n"])
        #expect(outcome == .complete(status: 200, reason: "OK", fields: ["Content-Length: 3", "Content-Length: 3"]))
    }

    @Test func obsTextInValuesIsAccepted() {
        let lines: [[UInt8]] = [
            Array("HTTP/1.1 200 OK\r\n".utf8), Array("X-A: caf".utf8) + [0xC3, 0xA9] + [13, 10], [13, 10],
        ]
        guard case .complete(200, _, let fields) = self.parse(lines) else {
            Issue.record("expected a complete head")
            return
        }
        #expect(fields.count == 1)
    }

    @Test func theFieldCountIsCapped() {
        let fields = (0...ResponseHeadParser.maximumFieldCount).map { "X-\($0): v\r\n" }
        #expect(self.parse(["HTTP/1.1 200 OK\r\n"] + fields + ["\r\n"]) == .invalid)
        let allowed = fields.dropLast().map { $0 }
        guard case .complete = self.parse(["HTTP/1.1 200 OK\r\n"] + allowed + ["\r\n"]) else {
            Issue.record("256 fields must pass")
            return
        }
    }

    @Test func theHeadSizeIsCapped() {
        let big = "X-Big: " + String(repeating: "a", count: 8_000) + "\r\n"
        #expect(self.parse(["HTTP/1.1 200 OK\r\n"] + Array(repeating: big, count: 9) + ["\r\n"]) == .invalid)
    }

    @Test func trailersAfterTheHeadAreIgnored() {
        var parser = ResponseHeadParser()
        for line in ["HTTP/1.1 200 OK\r\n", "\r\n"] {
            _ = Array(line.utf8).withUnsafeBytes { parser.receive(line: $0) }
        }
        #expect(parser.isComplete)
        guard case .needMore = Array("X-Trailer: \u{1}\r\n".utf8).withUnsafeBytes({ parser.receive(line: $0) }) else {
            Issue.record("trailers must be ignored")
            return
        }
    }

    /// Random printable field values round-trip; random bytes are refused exactly when they hold a control byte.
    @Test func randomFieldValues() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<500 {
            let length = Int(generator.next() % 40) + 1
            var value: [UInt8] = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            value.removeAll { $0 == 10 }  // a LF would end the line
            if value.isEmpty { continue }
            let hasControl = value.contains { ($0 < 0x20 && $0 != 9) || $0 == 0x7F }
            let line = Array("X-R: ".utf8) + value + [13, 10]
            let outcome = self.parse([Array("HTTP/1.1 200 OK\r\n".utf8), line, [13, 10]])
            if hasControl {
                #expect(outcome == .invalid, "value \(value)")
            } else {
                guard case .complete = outcome else {
                    Issue.record("value \(value) must pass")
                    continue
                }
            }
        }
    }
}
