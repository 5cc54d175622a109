import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Follows the framing of the request byte stream just far enough to bound what llhttp does not: the length of
/// chunk extensions (NIO-AND-CURL-NOTES.md). A pure value; ``ConnectionGuardHandler`` feeds it every byte read.
///
/// llhttp parses chunk extensions without keeping them, so they cost no memory, but a client can send an endless
/// extension (`1;aaaa…`) that is neither data nor a new chunk: no body byte ever arrives, `max_body_bytes` never
/// trips and the stalled-body deadline keeps being reset. RFC 9112 section 7.1.1 lets a server limit them; we
/// refuse an extension longer than `max_chunk_extension_bytes` (4 KiB) with 400.
///
/// Cost: ordinary requests pay one `memchr` per head line (to find where the head ends); bodies with a
/// `Content-Length` and chunk data are skipped by counting, never scanned. Only chunk-size lines and trailers are
/// read byte by byte.
///
/// The scanner needs to know each request's framing, which only the decoder knows: it stops right after each
/// head (``Step/headEnded(at:)``) so its owner can hand the head to the decoder alone and report the framing the
/// decoder saw (``bodyStarted(_:)``). Bytes the scanner cannot follow (llhttp will refuse them, or NIO stopped
/// parsing after an upgrade) make it go dormant: it then checks nothing and costs nothing.
struct RequestFramingScanner {
    /// How the body after a head is framed, as decoded.
    enum BodyFraming: Equatable, Sendable {
        case none
        case length(UInt64)
        case chunked
        /// Framing the scanner does not follow (an upgrade, CONNECT, a refused head).
        case unknown
    }

    /// What scanning a buffer found.
    enum Step: Equatable {
        /// Every byte was consumed; feed more.
        case needMore
        /// A head ended just before this offset of the buffer: hand `[0, offset)` to the decoder, then call
        /// ``bodyStarted(_:)`` and scan the rest.
        case headEnded(at: Int)
        /// A chunk extension is longer than allowed: refuse with 400 and close.
        case chunkExtensionTooLong
    }

    private enum State: Equatable {
        /// Looking for the empty line that ends a head; `lineBytes` counts bytes since the last LF.
        case head(lineBytes: Int, sawLine: Bool, lastWasCR: Bool)
        /// A head ended; the framing of its body is not known yet.
        case awaitingFraming
        case lengthBody(remaining: UInt64)
        case chunkSize(size: UInt64, digits: Int, extensionBytes: Int?)
        case chunkData(remaining: UInt64)
        /// The CRLF after chunk data.
        case chunkDataEnd(remaining: Int)
        /// Trailer section after the last chunk, up to its empty line.
        case trailers(lineBytes: Int, lastWasCR: Bool)
        case dormant
    }

    private var state: State = .head(lineBytes: 0, sawLine: false, lastWasCR: false)
    let maxExtensionBytes: Int

    init(maxExtensionBytes: Int) {
        self.maxExtensionBytes = maxExtensionBytes
    }

    /// Whether the scanner stopped following the stream.
    var isDormant: Bool { self.state == .dormant }

    /// Reports the framing of the body that follows the head just handed to the decoder.
    mutating func bodyStarted(_ framing: BodyFraming) {
        guard self.state == .awaitingFraming else { return }
        switch framing {
        case .none, .length(0): self.state = .head(lineBytes: 0, sawLine: false, lastWasCR: false)
        case .length(let length): self.state = .lengthBody(remaining: length)
        case .chunked: self.state = .chunkSize(size: 0, digits: 0, extensionBytes: nil)
        case .unknown: self.state = .dormant
        }
    }

    /// The decoder took a head without reporting one (it refused it): follow nothing more.
    mutating func framingUnknown() {
        if self.state == .awaitingFraming { self.state = .dormant }
    }

    /// A piece of a read, in the order the decoder must get it.
    enum Piece {
        /// Hand these bytes to the decoder. With `endsHead`, they end with a head: report its framing with
        /// ``bodyStarted(_:)`` (or ``framingUnknown()``) before asking for the next piece.
        case bytes(ByteBuffer, endsHead: Bool)
        /// A chunk extension is longer than allowed: refuse with 400 and close; the rest is not read.
        case chunkExtensionTooLong
    }

    /// Takes the next piece off the front of `rest`: everything when no head ends in it, else up to the end of the
    /// first head. Nil once `rest` is empty.
    mutating func nextPiece(of rest: inout ByteBuffer) -> Piece? {
        guard rest.readableBytes > 0 else { return nil }
        if self.isDormant { return .bytes(Self.takeAll(of: &rest), endsHead: false) }
        switch rest.withUnsafeReadableBytes({ self.scan($0) }) {
        case .needMore:
            return .bytes(Self.takeAll(of: &rest), endsHead: false)
        case .headEnded(let offset):
            guard let head = rest.readSlice(length: offset) else {
                // Cannot happen (the offset lies inside what was scanned); follow nothing rather than trap.
                self.state = .dormant
                return .bytes(Self.takeAll(of: &rest), endsHead: false)
            }
            return .bytes(head, endsHead: true)
        case .chunkExtensionTooLong:
            return .chunkExtensionTooLong
        }
    }

    private static func takeAll(of buffer: inout ByteBuffer) -> ByteBuffer {
        let all = buffer
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return all
    }

    /// Scans `bytes` from the start. Stops after a head (see ``Step/headEnded(at:)``).
    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Step {
        guard let start = bytes.baseAddress else { return .needMore }  // empty
        var index = 0
        let count = bytes.count
        while index < count {
            switch self.state {
            case .dormant, .awaitingFraming:
                return .needMore
            case .head(var lineBytes, var sawLine, var lastWasCR):
                // One memchr per line: heads are scanned, never copied.
                let base = start + index
                guard let found = memchr(base, Int32(UInt8(ascii: "\n")), count - index) else {
                    lineBytes += count - index
                    lastWasCR = bytes[count - 1] == UInt8(ascii: "\r")
                    self.state = .head(lineBytes: lineBytes, sawLine: sawLine, lastWasCR: lastWasCR)
                    return .needMore
                }
                let lf = index + (UnsafeRawPointer(found) - UnsafeRawPointer(base))
                let before = lf - index
                lineBytes += before
                if before > 0 { lastWasCR = bytes[lf - 1] == UInt8(ascii: "\r") }
                let empty = lineBytes == 0 || (lineBytes == 1 && lastWasCR)
                index = lf + 1
                if empty && sawLine {
                    self.state = .awaitingFraming
                    return .headEnded(at: index)
                }
                // Empty lines before a request line are ignored (RFC 9112 section 2.2).
                sawLine = sawLine || !empty
                self.state = .head(lineBytes: 0, sawLine: sawLine, lastWasCR: false)
            case .lengthBody(let remaining):
                let take = min(remaining, UInt64(count - index))
                index += Int(take)
                self.state =
                    take == remaining
                    ? .head(lineBytes: 0, sawLine: false, lastWasCR: false) : .lengthBody(remaining: remaining - take)
            case .chunkData(let remaining):
                let take = min(remaining, UInt64(count - index))
                index += Int(take)
                self.state = take == remaining ? .chunkDataEnd(remaining: 2) : .chunkData(remaining: remaining - take)
            case .chunkDataEnd(let remaining):
                let take = min(remaining, count - index)
                index += take
                self.state =
                    take == remaining
                    ? .chunkSize(size: 0, digits: 0, extensionBytes: nil) : .chunkDataEnd(remaining: remaining - take)
            case .chunkSize(var size, var digits, var extensionBytes):
                var lineEnded = false
                while index < count, !lineEnded {
                    let byte = bytes[index]
                    index += 1
                    if byte == UInt8(ascii: "\n") {
                        lineEnded = true
                    } else if var length = extensionBytes {
                        if byte != UInt8(ascii: "\r") {
                            length += 1
                            if length > self.maxExtensionBytes {
                                self.state = .dormant
                                return .chunkExtensionTooLong
                            }
                        }
                        extensionBytes = length
                    } else if let value = Self.hexValue(byte) {
                        guard digits < 16 else {
                            self.state = .dormant  // llhttp refuses the overflow
                            return .needMore
                        }
                        size = size << 4 | UInt64(value)
                        digits += 1
                    } else if byte != UInt8(ascii: "\r") {
                        // `;` starts an extension (BWS before it counts towards it too).
                        extensionBytes = 1
                    }
                }
                if !lineEnded {
                    self.state = .chunkSize(size: size, digits: digits, extensionBytes: extensionBytes)
                } else if digits == 0 {
                    self.state = .dormant  // llhttp refuses a chunk-size line without digits
                } else if size == 0 {
                    self.state = .trailers(lineBytes: 0, lastWasCR: false)
                } else {
                    self.state = .chunkData(remaining: size)
                }
            case .trailers(var lineBytes, var lastWasCR):
                let base = start + index
                guard let found = memchr(base, Int32(UInt8(ascii: "\n")), count - index) else {
                    lineBytes += count - index
                    lastWasCR = bytes[count - 1] == UInt8(ascii: "\r")
                    self.state = .trailers(lineBytes: lineBytes, lastWasCR: lastWasCR)
                    return .needMore
                }
                let lf = index + (UnsafeRawPointer(found) - UnsafeRawPointer(base))
                let before = lf - index
                lineBytes += before
                if before > 0 { lastWasCR = bytes[lf - 1] == UInt8(ascii: "\r") }
                index = lf + 1
                if lineBytes == 0 || (lineBytes == 1 && lastWasCR) {
                    self.state = .head(lineBytes: 0, sawLine: false, lastWasCR: false)
                } else {
                    self.state = .trailers(lineBytes: 0, lastWasCR: false)
                }
            }
        }
        return .needMore
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
