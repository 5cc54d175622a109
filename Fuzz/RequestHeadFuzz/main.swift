// libFuzzer entry point for the request-side checks of GatewayHTTPServer (RequestHeadValidator.swift,
// RequestFramingScanner.swift and ServerRefusal.swift, compiled into this binary):
// 1. the input, read as a head (first line "METHOD TARGET VERSION", then "name: value" lines), goes through
//    `RequestHeadValidator`; an accepted head must have exactly one Host (HTTP/1.1), a lone `chunked` if any
//    Transfer-Encoding, no CONNECT, and an origin-form target (or `*`) without a fragment;
// 2. the raw input goes through `RequestFramingScanner` whole and byte by byte: the steps must agree (the listener
//    hands it reads of any size), and an over-long chunk extension is reported the same way;
// 3. the raw input, read as a `ByteBuffer` in pieces, is split with `RequestFramingScanner.nextPiece` (what
//    `ConnectionGuardHandler` hands the decoder): the pieces must be the input again, in order, with the same head
//    ends; and collected with `RequestBody.append` under a limit: the body is the input up to the limit, never more.
// RequestBody.swift is compiled in too.
import GatewayCore
import NIOCore
import NIOHTTP1

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    validateHead(bytes)
    scanInPieces(bytes)
    splitIntoPieces(bytes)
    collectBody(bytes)
    return 0
}

private func splitIntoPieces(_ bytes: UnsafeRawBufferPointer) {
    let framings: [RequestFramingScanner.BodyFraming] = [.length(5), .chunked, .none, .unknown]
    var scanner = RequestFramingScanner(maxExtensionBytes: 64)
    var rebuilt: [UInt8] = []
    var heads = 0
    var position = 0
    while position < bytes.count {
        let end = min(bytes.count, position + 13)
        var read = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
        position = end
        while let piece = scanner.nextPiece(of: &read) {
            switch piece {
            case .bytes(let buffer, let endsHead):
                rebuilt += buffer.readableBytesView
                if endsHead {
                    scanner.bodyStarted(framings[heads % framings.count])
                    heads += 1
                }
            case .chunkExtensionTooLong:
                precondition(rebuilt.count < bytes.count)
                return
            }
        }
        precondition(read.readableBytes == 0, "a piece was left behind")
    }
    precondition(rebuilt.elementsEqual(bytes), "the pieces are not the input")
}

private func collectBody(_ bytes: UnsafeRawBufferPointer) {
    let limit = bytes.count / 2
    var body: ByteBuffer?
    var accepted = 0
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + 1 + offset % 11)
        var chunk = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<end]))
        let size = chunk.readableBytes
        if RequestBody.append(&chunk, to: &body, limit: limit) {
            accepted += size
        } else {
            precondition(accepted + size > limit)
            break
        }
        offset = end
    }
    precondition((body?.readableBytes ?? 0) == accepted && accepted <= limit)
    precondition(body.map { $0.readableBytesView.elementsEqual(bytes.prefix(accepted)) } ?? (accepted == 0))
}

private func validateHead(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
        $0.hasSuffix("\r") ? $0.dropLast() : $0
    }
    guard !lines.isEmpty else { return }
    let requestLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
    guard requestLine.count == 3 else { return }
    let version: HTTPVersion = requestLine[2] == "HTTP/1.0" ? .http1_0 : .http1_1
    var headers = HTTPHeaders()
    for line in lines {
        // Only heads llhttp could have produced: names are tokens (NIO traps on non-ASCII names).
        guard let colon = line.firstIndex(of: ":"), colon != line.startIndex,
            line[..<colon].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { continue }
        headers.add(name: String(line[..<colon]), value: String(line[line.index(after: colon)...]))
    }
    let head = HTTPRequestHead(
        version: version, method: HTTPMethod(rawValue: String(requestLine[0])), uri: String(requestLine[1]),
        headers: headers)
    let verdict = RequestHeadValidator.validate(head, maxHeadBytes: 16 * 1024)
    guard verdict.refusal == nil else { return }
    precondition(head.method != .CONNECT)
    if version == .http1_1 { precondition(headers["host"].count == 1) }
    for host in headers["host"] {
        // An accepted Host names one authority: no userinfo, path, space, or a port that is not digits.
        let trimmed = Substring(host).trimmingASCIIWhitespace()
        precondition(!trimmed.isEmpty && !trimmed.contains(where: { " /@?#\\".contains($0) }))
        if !trimmed.hasPrefix("["), let colon = trimmed.firstIndex(of: ":") {
            precondition(trimmed[trimmed.index(after: colon)...].allSatisfy { $0.isASCII && $0.isNumber })
        }
    }
    let codings = headers["transfer-encoding"].flatMap { $0.split(separator: ",") }
    if !codings.isEmpty {
        precondition(codings.count == 1 && codings[0].trimmingASCIIWhitespace().lowercased() == "chunked")
        precondition(version == .http1_1)
    }
    precondition(verdict.originFormTarget == "*" || verdict.originFormTarget.hasPrefix("/"))
    precondition(!verdict.originFormTarget.contains("#"))
}

private enum Outcome: Equatable {
    case headEnds([Int])
    case tooLong([Int])
}

private func scanInPieces(_ bytes: UnsafeRawBufferPointer) {
    let framings: [RequestFramingScanner.BodyFraming] = [.chunked, .length(5), .none, .chunked, .unknown]
    func run(pieceSize: Int) -> Outcome {
        var scanner = RequestFramingScanner(maxExtensionBytes: 64)
        var heads: [Int] = []
        var position = 0
        while position < bytes.count {
            let end = min(bytes.count, position + pieceSize)
            var offset = position
            while offset < end {
                let piece = UnsafeRawBufferPointer(rebasing: bytes[offset..<end])
                switch scanner.scan(piece) {
                case .needMore:
                    offset = end
                case .headEnded(let at):
                    precondition(at > 0 && at <= piece.count)
                    offset += at
                    heads.append(offset)
                    scanner.bodyStarted(framings[(heads.count - 1) % framings.count])
                case .chunkExtensionTooLong:
                    return .tooLong(heads)
                }
            }
            position = end
        }
        return .headEnds(heads)
    }
    let whole = run(pieceSize: max(bytes.count, 1))
    precondition(run(pieceSize: 1) == whole, "byte-by-byte scan disagrees with a whole scan")
    precondition(run(pieceSize: 7) == whole, "7-byte pieces disagree with a whole scan")
}
