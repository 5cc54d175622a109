import NIOCore
import NIOHTTP1

/// The request side of one client connection as a value: it assembles requests from decoded parts, decides every
/// refusal the listener makes itself, and says when a response may start and what follows it.
///
/// One request at a time: while a response is in progress (`responding`), the connection's owner stops reading and
/// keeps what was already decoded (a pipelined request) until ``responseFinished(ended:keepAlive:draining:)``; then
/// it feeds those parts in again, in order. So pipelined requests are answered in order, and a client cannot make
/// the gateway buffer more than one read ahead.
///
/// Transitions:
/// - `idle` → `readingBody` (a valid head) → `responding` (its end) → `idle` (response ended, keep-alive) or `closed`;
/// - any state → `closed` on a refusal or a quiet close; nothing leaves `closed`.
///
/// Pure: no I/O and no clock (the time a head arrived is passed in), so every rule is tested without a socket.
struct HTTPConnectionStateMachine {
    /// A request whose head was accepted and whose body is being collected.
    struct PendingRequest {
        var head: HTTPRequestHead
        var target: String
        var body: ByteBuffer?
        var receivedAt: ContinuousClock.Instant
        var keepAlive: Bool
    }

    private enum State {
        case idle
        case readingBody(PendingRequest)
        case responding(head: HTTPRequestHead)
        case closed
    }

    /// What the connection's owner must do after an event.
    enum Action {
        /// Nothing yet: read on.
        case none
        /// Write an interim `100 Continue`, then read the body.
        case writeContinue
        /// The request is complete: run the responder. The response closes the connection unless `keepAlive`.
        case respond(ServerRequest, keepAlive: Bool)
        /// Answer with this refusal (and `Connection: close`), then close.
        case refuse(ServerRefusal, head: HTTPRequestHead?)
        /// Close without an answer (the client left mid-request, or a response could not be finished).
        case closeQuietly
    }

    let maxHeaderBytes: Int
    let maxBodyBytes: Int
    private var state: State = .idle

    init(maxHeaderBytes: Int, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// A response is in progress: inbound parts and errors must wait
    /// (see ``responseFinished(ended:keepAlive:draining:)``).
    var isResponding: Bool {
        if case .responding = self.state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = self.state { return true }
        return false
    }

    /// Whether no request has started: the connection waits for a head.
    var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    /// A decoded part arrived (never while responding: the owner queues those).
    /// - Parameters:
    ///   - remoteAddress: the peer, carried into the request.
    ///   - peerIP: the peer's IP address as text (formatted once per connection), carried into the request.
    ///   - now: when the part arrived (a head's arrival time is the request's `receivedAt`).
    ///   - draining: the listener is draining (the response will close the connection).
    mutating func receive(
        _ part: HTTPServerRequestPart, remoteAddress: SocketAddress?, peerIP: String?, now: ContinuousClock.Instant,
        draining: Bool
    ) -> Action {
        switch (self.state, part) {
        case (.idle, .head(let head)):
            return self.headReceived(head, now: now, draining: draining)
        case (.idle, .body), (.idle, .end):
            return self.refuse(.malformedRequest("request body without a head"), head: nil)
        case (.readingBody(let pending), .head):
            return self.refuse(.malformedRequest("a new head before the body ended"), head: pending.head)
        case (.readingBody(var pending), .body(var chunk)):
            guard RequestBody.append(&chunk, to: &pending.body, limit: self.maxBodyBytes) else {
                return self.refuse(.bodyTooLarge, head: pending.head)
            }
            self.state = .readingBody(pending)
            return .none
        case (.readingBody(let pending), .end):
            self.state = .responding(head: pending.head)
            let request = ServerRequest(
                head: pending.head, target: pending.target, body: pending.body, remoteAddress: remoteAddress,
                peerIP: peerIP, receivedAt: pending.receivedAt)
            return .respond(request, keepAlive: pending.keepAlive)
        case (.responding, _):
            preconditionFailure("a part was delivered while a response is in progress; the owner queues them")
        case (.closed, _):
            return .none
        }
    }

    private mutating func headReceived(
        _ head: HTTPRequestHead, now: ContinuousClock.Instant, draining: Bool
    ) -> Action {
        let verdict = RequestHeadValidator.validate(head, maxHeadBytes: self.maxHeaderBytes)
        if let refusal = verdict.refusal { return self.refuse(refusal, head: head) }
        if let length = head.headers.first(name: "content-length").flatMap({ Int($0) }), length > self.maxBodyBytes {
            return self.refuse(.bodyTooLarge, head: head)
        }
        // NIO stops parsing after a message that asks for an upgrade: serve it, then close.
        let keepAlive = head.isKeepAlive && !head.headers.contains(name: "upgrade") && !draining
        self.state = .readingBody(
            PendingRequest(
                head: head, target: verdict.originFormTarget, body: nil, receivedAt: now, keepAlive: keepAlive))
        return verdict.expectsContinue ? .writeContinue : .none
    }

    /// The pipeline reported an error (a parser error, a timeout, an oversized head); never while responding.
    mutating func receive(error: any Error) -> Action {
        let head: HTTPRequestHead?
        switch self.state {
        case .idle: head = nil
        case .readingBody(let pending): head = pending.head
        case .responding: preconditionFailure("an error was delivered while a response is in progress")
        case .closed: return .none
        }
        switch error {
        case is RequestTimeoutError:
            return self.refuse(.requestTimeout, head: head)
        case let error as ChunkExtensionTooLongError:
            return self.refuse(.malformedRequest("chunk extension longer than \(error.limit) bytes"), head: head)
        case let error as RequestHeadTooLargeError:
            return self.refuse(error.requestLineTooLong ? .uriTooLong : .headerTooLarge, head: head)
        case let error as HTTPParserError:
            if error == .headerOverflow { return self.refuse(.headerTooLarge, head: head) }
            return self.refuse(.malformedRequest(Self.describe(error)), head: head)
        default:
            self.state = .closed
            return .closeQuietly
        }
    }

    /// What follows a response.
    enum AfterResponse: Equatable {
        /// Wait for the next request (and replay what was decoded meanwhile).
        case readNext
        /// Close the connection.
        case close
    }

    /// The responder returned. `ended`: its response was written to the end; `keepAlive`: neither the request nor
    /// the response asked to close.
    mutating func responseFinished(ended: Bool, keepAlive: Bool, draining: Bool) -> AfterResponse {
        guard case .responding = self.state else { return .close }
        guard ended, keepAlive, !draining else {
            self.state = .closed
            return .close
        }
        self.state = .idle
        return .readNext
    }

    /// The responder failed before writing a head: answer 500 and close.
    mutating func responderFailedBeforeHead() -> Action {
        guard case .responding(let head) = self.state else { return .closeQuietly }
        return self.refuse(.internalError, head: head)
    }

    /// The client went away, or the listener closes the connection.
    mutating func close() {
        self.state = .closed
    }

    private mutating func refuse(_ refusal: ServerRefusal, head: HTTPRequestHead?) -> Action {
        self.state = .closed
        return .refuse(refusal, head: head)
    }

    /// A short, client-safe description of a parser error.
    private static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidHeaderToken: return "invalid character in a header field"
        case .invalidContentLength, .unexpectedContentLength: return "invalid Content-Length"
        case .invalidChunkSize: return "invalid chunk size"
        case .invalidMethod: return "invalid method"
        case .invalidURL: return "invalid request target"
        case .invalidVersion: return "invalid HTTP version"
        case .lfExpected, .invalidConstant: return "invalid line ending"
        default: return "malformed request"
        }
    }
}
