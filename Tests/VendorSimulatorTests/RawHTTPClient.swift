#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal blocking TCP client for the tests: sends raw request bytes, reads until the server closes, and
/// reports the raw bytes it got and how the connection ended. Blocking is fine here: the simulator runs on
/// NIO's own threads, and every read has a timeout.
struct RawHTTPClient {
    /// How the exchange ended.
    enum Ending: Equatable {
        /// The server closed cleanly (EOF).
        case closed
        /// The connection was reset (ECONNRESET).
        case reset
        /// Nothing more arrived within the read timeout.
        case timedOut
    }

    struct Outcome {
        /// The bytes received (all of them, or the first `keep` with `discardAfter`).
        var bytes: [UInt8]
        /// How many bytes arrived in all.
        var total: Int
        var ending: Ending
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let port: Int
    var readTimeoutMilliseconds = 10_000

    /// Sends `request` on a new connection and reads until the server closes it.
    /// - Parameter keep: keep at most this many bytes (the rest is only counted).
    func exchange(_ request: String, keep: Int = .max) throws -> Outcome {
        try self.exchange(Array(request.utf8), keep: keep)
    }

    func exchange(_ request: [UInt8], keep: Int = .max) throws -> Outcome {
        let descriptor = try self.connect()
        defer { close(descriptor) }
        try Self.sendAll(descriptor, request)
        var outcome = Outcome(bytes: [], total: 0, ending: .closed)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                outcome.total += count
                if outcome.bytes.count < keep {
                    outcome.bytes += buffer[0..<min(count, keep - outcome.bytes.count)]
                }
            } else if count == 0 {
                outcome.ending = .closed
                return outcome
            } else if errno == ECONNRESET {
                outcome.ending = .reset
                return outcome
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                outcome.ending = .timedOut
                return outcome
            } else if errno != EINTR {
                throw Failure(description: "recv failed: errno \(errno)")
            }
        }
    }

    private func connect() throws -> Int32 {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw Failure(description: "socket failed: errno \(errno)") }
        var timeout = timeval(
            tv_sec: self.readTimeoutMilliseconds / 1000,
            tv_usec: .init((self.readTimeoutMilliseconds % 1000) * 1000)
        )
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(self.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            throw Failure(description: "connect failed: errno \(errno)")
        }
        return descriptor
    }

    private static func sendAll(_ descriptor: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }
}

/// One HTTP/1.1 response parsed from raw bytes (enough for the tests: status, headers, a
/// Content-Length, chunked or close-delimited body).
struct ParsedResponse {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The bytes after this response (a pipelined next one).
    var rest: [UInt8]

    var bodyText: String { String(decoding: self.body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        self.headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
    }

    init(_ bytes: [UInt8]) throws {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let headEnd = bytes.firstRange(of: separator) else {
            throw RawHTTPClient.Failure(description: "no complete head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self).split(separator: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw RawHTTPClient.Failure(description: "bad status line \(lines[0])")
        }
        self.status = status
        self.headers = lines.dropFirst().map { line in
            let colon = line.firstIndex(of: ":")!
            return (
                String(line[..<colon]),
                String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            )
        }
        var remaining = Array(bytes[headEnd.upperBound...])
        if let length = self.headers.first(where: { $0.name.lowercased() == "content-length" }).flatMap({
            Int($0.value)
        }) {
            self.body = Array(remaining.prefix(length))
            self.rest = Array(remaining.dropFirst(length))
        } else if self.headers.contains(where: {
            $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased() == "chunked"
        }) {
            var body: [UInt8] = []
            while let lineEnd = remaining.firstRange(of: Array("\r\n".utf8)) {
                let sizeText = String(decoding: remaining[..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText, radix: 16) else {
                    throw RawHTTPClient.Failure(description: "bad chunk size \(sizeText)")
                }
                remaining = Array(remaining[lineEnd.upperBound...])
                if size == 0 {
                    remaining = Array(remaining.dropFirst(2))
                    break
                }
                body += remaining.prefix(size)
                remaining = Array(remaining.dropFirst(size + 2))
            }
            self.body = body
            self.rest = remaining
        } else {
            self.body = remaining
            self.rest = []
        }
    }
}

/// Builds a request head for the tests.
func rawRequest(
    _ method: String = "GET",
    _ target: String,
    headers: [(String, String)] = [],
    body: String? = nil,
    close: Bool = true
) -> String {
    var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (name, value) in headers {
        text += "\(name): \(value)\r\n"
    }
    if let body {
        text += "Content-Length: \(body.utf8.count)\r\n"
    }
    if close {
        text += "Connection: close\r\n"
    }
    return text + "\r\n" + (body ?? "")
}

/// The resident set size of this process, from `/proc/self/statm` (Linux; its second field, in pages).
func residentBytes() -> Int? {
    guard let file = fopen("/proc/self/statm", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, Int32(line.count), file) != nil else { return nil }
    let fields = String(decoding: line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        .split(separator: " ")
    guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
