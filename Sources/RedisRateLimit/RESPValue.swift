import NIOCore

/// A RESP2 reply (https://redis.io/docs/latest/develop/reference/protocol-spec/): the only shapes Redis sends
/// over protocol version 2.
enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    /// An error reply such as `NOSCRIPT No matching script` or `WRONGPASS invalid username-password pair`.
    case error(String)
    case integer(Int64)
    case bulkString(String)
    /// A null bulk string or null array.
    case null
    case array([RESPValue])

    /// The first word of an error reply (`NOSCRIPT`, `WRONGPASS`, `ERR`…), nil for other values.
    var errorPrefix: Substring? {
        guard case .error(let message) = self else { return nil }
        return message.split(separator: " ", maxSplits: 1).first
    }
}

/// A command: an array of bulk strings, the only form Redis accepts from clients besides inline commands.
struct RESPCommand: Sendable {
    var arguments: [String]

    init(_ arguments: [String]) {
        self.arguments = arguments
    }

    /// The command's name for logs (never its arguments, which may hold a password or client keys).
    var name: String { self.arguments.first ?? "" }

    func encode(into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(self.arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in self.arguments {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }
}

/// Reads RESP2 replies from the byte stream. A reply split across reads is parsed again from its start once
/// more bytes arrive (replies here are a few dozen bytes, so that costs less than keeping a partial parse).
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    /// A bulk string or array longer than this is a protocol error: our replies are small.
    static let maximumLength = 16 * 1024 * 1024
    static let maximumDepth = 8

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var view = buffer
        guard let value = try Self.parse(&view, depth: 0) else { return .needMoreData }
        buffer.moveReaderIndex(to: view.readerIndex)
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try self.decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// One value from the front of `buffer`, or nil if it is not complete yet.
    static func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= Self.maximumDepth else { throw RedisClientError(.protocolError, "nesting too deep") }
        guard let type = buffer.readInteger(as: UInt8.self) else { return nil }
        guard let line = Self.readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(line)
        case UInt8(ascii: "-"):
            return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int64(line) else { throw RedisClientError(.protocolError, "bad integer") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line), length <= Self.maximumLength else {
                throw RedisClientError(.protocolError, "bad bulk length")
            }
            if length < 0 { return .null }
            guard buffer.readableBytes >= length + 2, let string = buffer.readString(length: length) else {
                return nil
            }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulkString(string)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count <= Self.maximumLength else {
                throw RedisClientError(.protocolError, "bad array length")
            }
            if count < 0 { return .null }
            var values: [RESPValue] = []
            values.reserveCapacity(min(count, 64))
            for _ in 0..<count {
                guard let value = try Self.parse(&buffer, depth: depth + 1) else { return nil }
                values.append(value)
            }
            return .array(values)
        default:
            throw RedisClientError(.protocolError, "unknown reply type")
        }
    }

    /// The text up to the next CRLF, consumed with it; nil if no CRLF yet.
    private static func readLine(_ buffer: inout ByteBuffer) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: UInt8(ascii: "\r")), cr + 1 < view.endIndex else { return nil }
        let line = buffer.readString(length: cr - view.startIndex)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// What went wrong talking to Redis. `description` is bounded and safe to log; it never holds a password.
public struct RedisClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, bounded classification.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let description: String

        /// The call did not complete within the store's timeout.
        public static let timedOut = Code(description: "timed_out")
        /// Every connection is backing off after failed connects: the call was not attempted.
        public static let unavailable = Code(description: "unavailable")
        /// The connection failed or closed before the reply.
        public static let connectionFailed = Code(description: "connection_failed")
        /// `AUTH` was refused (wrong user name or password, or no password set on the server).
        public static let authenticationFailed = Code(description: "authentication_failed")
        /// `SELECT` was refused (no such database).
        public static let selectFailed = Code(description: "select_failed")
        /// Redis answered with an error reply.
        public static let serverError = Code(description: "server_error")
        /// A reply that is not RESP2, or not the shape the command returns.
        public static let protocolError = Code(description: "protocol_error")
        /// The store is shut down.
        public static let shutDown = Code(description: "shut_down")
    }

    public var code: Code
    /// A short detail: Redis's own error line (passwords are never sent back in them), or a fixed phrase.
    public var detail: String

    init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(self.code): \(self.detail)" }
}
