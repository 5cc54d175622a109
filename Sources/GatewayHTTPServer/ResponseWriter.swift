public import NIOCore
public import NIOHTTP1

/// Writes one response on a connection: a head, body parts, an end — in that order, once.
///
/// Each write goes straight into the connection's pipeline and is flushed; when the channel's buffer is above its high
/// watermark, the write waits for it to drain, so a slow client slows the producer down instead of filling memory.
/// Used by one task at a time (the request's), hence a class without locks.
public final class ResponseWriter: @unchecked Sendable {
    // @unchecked Sendable: handed to the request's task when it starts, then used by that task alone.
    /// Where the response stands.
    public enum State: Sendable, Equatable {
        case nothingWritten
        case headWritten
        case ended
    }

    /// Thrown when a caller breaks the head-body-end order; a programming error, reported instead of trapping.
    public struct OrderError: Error, CustomStringConvertible {
        public let description: String
    }

    private let sink: ResponseSink
    private let isHeadRequest: Bool
    public private(set) var state: State = .nothingWritten
    /// Add `Connection: close` and close after this response.
    public private(set) var closeAfterResponse: Bool
    /// Body bytes written so far, for the access log.
    public private(set) var bodyBytesWritten = 0
    /// The status of the head written, if any.
    public private(set) var status: HTTPResponseStatus?

    /// The connection's drain state, consulted when the head goes out.
    private let connection: ConnectionRegistry.Entry?

    init(sink: ResponseSink, isHeadRequest: Bool, closeAfterResponse: Bool, connection: ConnectionRegistry.Entry?) {
        self.sink = sink
        self.isHeadRequest = isHeadRequest
        self.closeAfterResponse = closeAfterResponse
        self.connection = connection
    }

    /// Asks for the connection to be closed after this response (adds `Connection: close` if the head is not out).
    public func requestClose() {
        self.closeAfterResponse = true
    }

    public func writeHead(status: HTTPResponseStatus, headers: HTTPHeaders) async throws {
        let head = try self.takeHead(status: status, headers: headers, next: .headWritten)
        try await self.sink.send(head, nil, end: false)
    }

    /// The head part to write, with `Connection: close` when this response closes the connection (asked for, or
    /// the listener is draining); moves the state on. Throws if a head was already written.
    private func takeHead(status: HTTPResponseStatus, headers: HTTPHeaders, next: State) throws -> HTTPResponseHead {
        guard self.state == .nothingWritten else { throw OrderError(description: "response head written twice") }
        var headers = headers
        if self.connection?.isDraining ?? false { self.closeAfterResponse = true }
        if self.closeAfterResponse { headers.replaceOrAdd(name: "connection", value: "close") }
        self.state = next
        self.status = status
        return HTTPResponseHead(version: .http1_1, status: status, headers: headers)
    }

    /// Writes the head together with the first body part, and the end too when `isLast`: one flush, so one system
    /// call, for a response whose body arrives in one piece. `firstPart` nil writes the head alone (and the end
    /// with it when `isLast`).
    public func writeHead(
        status: HTTPResponseStatus, headers: HTTPHeaders, firstPart: ByteBuffer?, isLast: Bool
    ) async throws {
        let head = try self.takeHead(status: status, headers: headers, next: isLast ? .ended : .headWritten)
        var body: ByteBuffer?
        if let firstPart, !self.isHeadRequest, firstPart.readableBytes > 0 {
            self.bodyBytesWritten += firstPart.readableBytes
            body = firstPart
        }
        try await self.sink.send(head, body, end: isLast)
    }

    /// Writes a whole response whose body is at hand in parts: head, parts and end, one flush.
    public func writeHead(status: HTTPResponseStatus, headers: HTTPHeaders, parts: [ByteBuffer]) async throws {
        let head = try self.takeHead(status: status, headers: headers, next: .ended)
        guard !self.isHeadRequest, parts.count > 1 else {
            let body = self.isHeadRequest ? nil : parts.first.flatMap { $0.readableBytes > 0 ? $0 : nil }
            self.bodyBytesWritten += body?.readableBytes ?? 0
            try await self.sink.send(head, body, end: true)
            return
        }
        for part in parts { self.bodyBytesWritten += part.readableBytes }
        try await self.sink.send(head, parts)
    }

    /// Writes a body part, and the end with it when `isLast`: one flush.
    public func writeBodyPart(_ buffer: ByteBuffer, isLast: Bool) async throws {
        guard isLast else {
            try await self.writeBodyPart(buffer)
            return
        }
        guard self.state == .headWritten else { throw OrderError(description: "body part outside a response") }
        self.state = .ended
        if !self.isHeadRequest, buffer.readableBytes > 0 {
            self.bodyBytesWritten += buffer.readableBytes
            try await self.sink.send(nil, buffer, end: true)
        } else {
            try await self.sink.send(nil, nil, end: true)
        }
    }

    public func writeBodyPart(_ buffer: ByteBuffer) async throws {
        guard self.state == .headWritten else { throw OrderError(description: "body part outside a response") }
        guard !self.isHeadRequest, buffer.readableBytes > 0 else { return }
        self.bodyBytesWritten += buffer.readableBytes
        try await self.sink.send(nil, buffer, end: false)
    }

    public func writeEnd() async throws {
        guard self.state == .headWritten else { throw OrderError(description: "response ended twice") }
        self.state = .ended
        try await self.sink.send(nil, nil, end: true)
    }

    /// Writes a complete response held in memory, with its `Content-Length`: head, body and end in one write, so
    /// one system call.
    public func write(_ response: ServerResponse) async throws {
        let (headers, body) = response.framed(isHeadRequest: self.isHeadRequest)
        let head = try self.takeHead(status: response.status, headers: headers, next: .ended)
        self.bodyBytesWritten += body?.readableBytes ?? 0
        try await self.sink.send(head, body, end: true)
    }
}
