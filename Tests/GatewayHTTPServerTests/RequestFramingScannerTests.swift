import Testing

@testable import GatewayHTTPServer

@Suite("RequestFramingScanner")
struct RequestFramingScannerTests {
    /// Feeds `text` in pieces of `split` bytes, answering each head with `framings` in order; returns the steps
    /// that were not `needMore` and the offsets (in the whole text) where heads ended.
    private func run(
        _ text: String, split: Int, framings: [RequestFramingScanner.BodyFraming], limit: Int = 16
    ) -> (heads: [Int], tooLong: Bool) {
        var scanner = RequestFramingScanner(maxExtensionBytes: limit)
        let bytes = Array(text.utf8)
        var heads: [Int] = []
        var framings = framings[...]
        var position = 0
        while position < bytes.count {
            var piece = Array(bytes[position..<min(bytes.count, position + split)])
            var consumed = position
            while !piece.isEmpty {
                let step = piece.withUnsafeBytes { scanner.scan($0) }
                switch step {
                case .needMore:
                    piece = []
                case .headEnded(let offset):
                    heads.append(consumed + offset)
                    consumed += offset
                    piece.removeFirst(offset)
                    scanner.bodyStarted(framings.popFirst() ?? .unknown)
                case .chunkExtensionTooLong:
                    return (heads, true)
                }
            }
            position += split
        }
        return (heads, false)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func findsEveryHeadOfPipelinedRequestsWhateverTheSplit(split: Int) {
        let first = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
        let second = "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        let chunked = "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
        let third = "\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n"
        let text = first + "hello" + second + chunked + third
        let result = self.run(text, split: split, framings: [.length(5), .chunked, .none])
        #expect(!result.tooLong)
        #expect(
            result.heads == [
                first.utf8.count, first.utf8.count + 5 + second.utf8.count, text.utf8.count,
            ])
    }

    @Test(arguments: [1, 5, 1000])
    func anExtensionOverTheLimitIsReportedAtOnce(split: Int) {
        let head = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        let atLimit = "1;" + String(repeating: "a", count: 15) + "\r\nx\r\n"
        #expect(!self.run(head + atLimit + "0\r\n\r\n", split: split, framings: [.chunked]).tooLong)
        let overLimit = "1;" + String(repeating: "a", count: 16) + "\r\nx\r\n"
        #expect(self.run(head + overLimit, split: split, framings: [.chunked]).tooLong)
        // Never terminated: still reported once the limit is passed.
        #expect(self.run(head + "1;" + String(repeating: "b", count: 100), split: split, framings: [.chunked]).tooLong)
    }

    @Test func chunkDataIsNotScannedForExtensions() {
        let head = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        let data = String(repeating: ";", count: 100)
        #expect(!self.run(head + "64\r\n" + data + "\r\n0\r\n\r\n", split: 9, framings: [.chunked]).tooLong)
    }

    @Test func unknownFramingMakesTheScannerDormant() {
        var scanner = RequestFramingScanner(maxExtensionBytes: 4)
        let head = Array("GET / HTTP/1.1\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n".utf8)
        #expect(head.withUnsafeBytes { scanner.scan($0) } == .headEnded(at: head.count))
        scanner.bodyStarted(.unknown)
        #expect(scanner.isDormant)
        let rest = Array("1;aaaaaaaaaaaaaaaaaa\r\n".utf8)
        #expect(rest.withUnsafeBytes { scanner.scan($0) } == .needMore)
    }
}
