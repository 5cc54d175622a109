import NIOCore

/// The deadlines of one connection as a value: which timer runs in which phase of a request (a pure state machine).
///
/// SwiftNIO's `IdleStateHandler` restarts on every byte, so a client trickling one byte a second is never idle.
/// These deadlines do not move with bytes where it matters:
/// - `idle` (no request started): `idle_timeout`, then the connection is closed quietly;
/// - `readingHead` (first byte seen, head not complete): `request_header_timeout` from the *first* byte, then 408;
/// - `readingBody`: 408 at whichever comes first of
///   - a stall: `request_header_timeout` without any byte;
///   - the body deadline: `request_body_timeout` after the head, plus one second for every
///     `min_request_body_rate` bytes received (Apache's mod_reqtimeout `body=…,MinRate=…`): a body trickled just
///     fast enough never to stall still ends, while a large body sent at least that fast is never cut;
/// - `processing` (request complete, response not finished): no deadline here; upstream timeouts bound it.
///
/// Time is passed in with the events, so every rule is tested exactly.
struct ConnectionTimeouts {
    enum Phase: Equatable {
        case idle
        case readingHead
        case readingBody
        case processing
    }

    enum Event {
        case bytesReceived(count: Int, now: NIODeadline)
        case headReceived(now: NIODeadline)
        case requestEnded
        case responseEnded
        case deadlineReached(Phase)
    }

    enum Action: Equatable {
        case none
        /// (Re)arm the single timer for this long; it reports `deadlineReached` with the phase it was armed in.
        case arm(TimeAmount, Phase)
        case cancelTimer
        /// The connection has been idle too long: close it without a response.
        case closeIdleConnection
        /// The head or body did not arrive in time: answer 408 and close.
        case failRequestTimeout
    }

    private(set) var phase: Phase = .idle
    let idleTimeout: TimeAmount
    let requestTimeout: TimeAmount
    let bodyTimeout: TimeAmount
    let minBodyBytesPerSecond: Int
    /// When the body being read started (its head was complete), and how many bytes arrived since.
    private var bodyStart = NIODeadline.distantPast
    private var bodyBytes = 0

    init(
        idleTimeout: TimeAmount, requestTimeout: TimeAmount, bodyTimeout: TimeAmount = .seconds(30),
        minBodyBytesPerSecond: Int = 1024
    ) {
        self.idleTimeout = idleTimeout
        self.requestTimeout = requestTimeout
        self.bodyTimeout = bodyTimeout
        self.minBodyBytesPerSecond = max(1, minBodyBytesPerSecond)
    }

    /// The action when the connection becomes active.
    func start() -> Action { .arm(self.idleTimeout, .idle) }

    mutating func handle(_ event: Event) -> Action {
        switch (self.phase, event) {
        case (.idle, .bytesReceived):
            self.phase = .readingHead
            return .arm(self.requestTimeout, .readingHead)
        case (.readingHead, .bytesReceived), (.processing, .bytesReceived):
            // The head's deadline runs from its first byte; bytes during processing are a pipelined request
            // that the next head event accounts for.
            return .none
        case (.readingBody, .bytesReceived(let count, let now)):
            self.bodyBytes = self.bodyBytes.addingReportingOverflow(count).overflow ? .max : self.bodyBytes + count
            return self.armBodyTimer(now: now)
        case (.idle, .headReceived(let now)), (.readingHead, .headReceived(let now)),
            (.processing, .headReceived(let now)), (.readingBody, .headReceived(let now)):
            self.phase = .readingBody
            self.bodyStart = now
            self.bodyBytes = 0
            return self.armBodyTimer(now: now)
        case (.readingBody, .requestEnded), (.readingHead, .requestEnded), (.idle, .requestEnded):
            self.phase = .processing
            return .cancelTimer
        case (.processing, .requestEnded):
            return .none
        case (_, .responseEnded):
            if self.phase == .readingBody {
                // Answered before the body was read (413, early error): the connection closes anyway.
                return .none
            }
            self.phase = .idle
            return .arm(self.idleTimeout, .idle)
        case (let current, .deadlineReached(let armed)):
            guard current == armed else { return .none }
            switch current {
            case .idle: return .closeIdleConnection
            case .readingHead, .readingBody: return .failRequestTimeout
            case .processing: return .none
            }
        }
    }

    /// The body deadline: `bodyTimeout` after the head, plus a second per `minBodyBytesPerSecond` bytes received.
    var bodyDeadline: NIODeadline {
        let earned = Double(self.bodyBytes) / Double(self.minBodyBytesPerSecond) * 1e9
        // Beyond a year is as good as never; the clamp keeps the arithmetic in range.
        let earnedNanoseconds = Int64(min(earned, 365 * 86_400 * 1e9))
        return self.bodyStart + self.bodyTimeout + .nanoseconds(earnedNanoseconds)
    }

    /// Arms whichever body deadline comes first: a stall of `requestTimeout`, or ``bodyDeadline``.
    private func armBodyTimer(now: NIODeadline) -> Action {
        let untilDeadline = self.bodyDeadline - now
        guard untilDeadline > .zero else { return .failRequestTimeout }
        return .arm(min(self.requestTimeout, untilDeadline), .readingBody)
    }
}
