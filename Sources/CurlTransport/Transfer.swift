import CCurl
import GatewayCore
import NIOCore
import Synchronization

/// One try at an upstream: the context curl's callbacks receive as `userdata` and `CURLOPT_PRIVATE`.
///
/// The engine retains it (`Unmanaged.passRetained`) when it adds the handle and releases it exactly once after
/// `curl_multi_remove_handle`, so callbacks always see a live object.
final class Transfer: @unchecked Sendable {
    // @unchecked Sendable: `state` is behind a Mutex; the fields marked "engine thread" are read and written only
    // on the engine thread (commands, curl callbacks), and the rest is immutable.

    typealias BodySequence = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, BodyDelegate
    >
    /// Unchecked: the state machine hands the continuation out exactly once (it leaves `awaitingHead` as it does),
    /// which its tests check; a checked one costs an allocation and atomics per request.
    typealias HeadContinuation = UnsafeContinuation<UpstreamResponse, any Error>
    typealias StateMachine = TransferStateMachine<HeadContinuation, BodySequence.Source>

    let request: UpstreamRequest
    let queue: CommandQueue
    private let watermarks: (low: Int, high: Int)
    private let idleTimeout: Duration
    private let state = Mutex(StateMachine())

    // Engine thread only.
    var easy: EasyHandle?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var parser = ResponseHeadParser()
    /// Why the engine aborted the transfer; wins over the `CURLcode` the abort produces.
    var pendingError: UpstreamError?
    var headDelivered = false
    /// The write callback answered PAUSE and curl waits for `curl_easy_pause(CONT)`.
    var curlPaused = false
    /// When the head must have arrived; set when the engine starts the transfer.
    var headDeadline: ContinuousClock.Instant?
    /// When body bytes last moved (the idle timeout counts from here once the head arrived).
    var lastProgress: ContinuousClock.Instant?
    var activeIndex = -1
    /// The loop running this transfer, while it runs (to move its deadline earlier when the head arrives).
    var loop: EngineLoop?
    /// The final head, parsed but not handed out yet, and the body bytes that arrived after it. The engine hands the
    /// head out at the end of the turn in which it arrived: with the whole body when the transfer completed within
    /// that turn (a small response arrives with its head), so the caller of `execute` is woken once and reads the
    /// body without a stream; otherwise with a stream that starts with the held bytes.
    private(set) var heldHead: UpstreamResponseHead?
    private var heldChunks: [ByteBuffer] = []
    private var heldBytes = 0
    /// Held bytes beyond this hand the head out at once (the stream's high watermark, in bytes).
    private let holdLimit: Int
    private let allocator = ByteBufferAllocator()

    init(request: UpstreamRequest, queue: CommandQueue, watermarks: (low: Int, high: Int)) {
        self.request = request
        self.queue = queue
        self.watermarks = watermarks
        self.idleTimeout = request.idleTimeout
        self.holdLimit = watermarks.high * Int(CURL_MAX_WRITE_SIZE)
    }

    // MARK: the calling task

    /// Registers `execute`'s continuation and queues the transfer on the engine.
    func start(_ continuation: HeadContinuation) {
        switch self.state.withLock({ $0.start(continuation) }) {
        case .enqueueStart:
            if !self.queue.push(.start(self)) {
                self.completeWithoutEngine(UpstreamError(.cancelled, detail: "engine shut down"))
            }
        case .failHead(let continuation, let error):
            continuation.resume(throwing: error)
        }
    }

    func taskCancelled() {
        switch self.state.withLock({ $0.taskCancelled() }) {
        case .none:
            break
        case .failHeadAndCancelTransfer(let continuation, let error):
            continuation.resume(throwing: error)
            self.queue.push(.cancel(self, error))
        }
    }

    /// Settles a transfer the engine never started (it stopped first).
    func completeWithoutEngine(_ error: UpstreamError) {
        self.complete(error)
    }

    // MARK: the body's consumer

    fileprivate func produceMore() {
        switch self.state.withLock({ $0.produceMore() }) {
        case .none:
            break
        case .enqueueResume:
            self.queue.push(.resume(self))
        }
    }

    fileprivate func consumerTerminated() {
        switch self.state.withLock({ $0.consumerTerminated() }) {
        case .none:
            break
        case .cancelTransfer:
            self.queue.push(.cancel(self, UpstreamError(.cancelled, detail: "response body dropped")))
        }
    }

    // MARK: engine thread

    func engineWillStart() -> Bool {
        self.state.withLock { $0.engineWillStart() }
    }

    /// The deadline the engine enforces now: the head's, then idleness (none while curl is paused for us).
    var currentDeadline: ContinuousClock.Instant? {
        if !self.headDelivered { return self.headDeadline }
        if self.curlPaused { return nil }
        return self.lastProgress.map { $0 + self.idleTimeout }
    }

    /// The header callback: one line of some response head (or a trailer). Returns the bytes taken; fewer aborts.
    func receiveHeaderLine(_ line: UnsafeRawBufferPointer) -> Int {
        if self.headDelivered {
            return line.count  // trailers: not forwarded
        }
        switch self.parser.receive(line: line) {
        case .needMore:
            return line.count
        case .invalid(let reason):
            self.pendingError = UpstreamError(.protocolError, detail: reason)
            return 0
        case .complete(let head):
            if head.status == 204 || head.status == 304, let easy = self.easy {
                // These responses end with their head (RFC 9112 §6.3): any byte after it is not a body, and curl
                // would read it as the start of the next response on this connection. Close it instead of
                // pooling it. curl reads the flag when the transfer is done; the handle's reset clears it.
                _ = ccurl_easy_setopt_long(easy.raw, CURLOPT_FORBID_REUSE, 1)
            }
            self.headDelivered = true
            self.lastProgress = .now
            self.loop?.noteDeadline(self.currentDeadline)
            self.heldHead = head
            self.loop?.holdHead(self)
            return line.count
        }
    }

    /// Hands a held head out with a body stream that starts with the held bytes. False when nobody waits for it or
    /// reads it any more: the caller aborts the transfer (``pendingError`` says why).
    func handOutHeldHead() -> Bool {
        guard let head = self.heldHead else { return true }
        self.heldHead = nil
        let chunks = self.heldChunks
        self.heldChunks = []
        self.heldBytes = 0
        let made = BodySequence.makeSequence(
            elementType: ByteBuffer.self,
            backPressureStrategy: .init(lowWatermark: self.watermarks.low, highWatermark: self.watermarks.high),
            finishOnDeinit: false,
            delegate: BodyDelegate(transfer: self)
        )
        switch self.state.withLock({ $0.headReceived(source: made.source) }) {
        case .succeedHead(let continuation):
            var proceed = true
            if !chunks.isEmpty {
                switch self.state.withLock({ $0.didYield(Self.outcome(of: made.source.yield(contentsOf: chunks))) }) {
                case .proceed: break
                case .abort: proceed = false
                }
            }
            continuation.resume(returning: UpstreamResponse(head: head, body: UpstreamResponseBody(made.sequence)))
            if !proceed {
                self.pendingError = self.pendingError ?? UpstreamError(.cancelled, detail: "response body dropped")
            }
            return proceed
        case .discard:
            made.source.finish()
            self.pendingError = self.pendingError ?? UpstreamError(.cancelled, detail: "nobody waits")
            return false
        }
    }

    private static func outcome(of result: BodySequence.Source.YieldResult) -> StateMachine.YieldOutcome {
        switch result {
        case .produceMore: return .produceMore
        case .stopProducing: return .stopProducing
        case .dropped: return .dropped
        }
    }

    /// The write callback: one chunk of the body. Returns the bytes taken, `CURL_WRITEFUNC_PAUSE` to have curl
    /// keep the chunk and pause, or 0 to abort.
    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Int {
        if chunk.isEmpty { return 0 }
        if self.heldHead != nil {
            if self.heldBytes + chunk.count <= self.holdLimit {
                self.heldChunks.append(self.allocator.buffer(bytes: chunk))
                self.heldBytes += chunk.count
                self.lastProgress = .now
                return chunk.count
            }
            guard self.handOutHeldHead() else { return 0 }
        }
        switch self.state.withLock({ $0.bodyReceived() }) {
        case .pause:
            self.curlPaused = true
            return CCURL_WRITEFUNC_PAUSE
        case .abort:
            if self.pendingError == nil {
                self.pendingError =
                    self.headDelivered
                    ? UpstreamError(.cancelled, detail: "response body dropped")
                    : UpstreamError(.protocolError, detail: "body before a final head")
            }
            return 0
        case .yield(let source):
            self.lastProgress = .now
            let outcome = Self.outcome(of: source.yield(self.allocator.buffer(bytes: chunk)))
            switch self.state.withLock({ $0.didYield(outcome) }) {
            case .proceed:
                return chunk.count
            case .abort:
                self.pendingError = self.pendingError ?? UpstreamError(.cancelled, detail: "response body dropped")
                return 0
            }
        }
    }

    /// The engine removed the handle (or never added it): settle `execute` or the body stream.
    func complete(_ error: UpstreamError?) {
        if let head = self.heldHead {
            guard error == nil else {
                // The head is out with the bytes that came; the stream then ends with the error, below.
                _ = self.handOutHeldHead()
                return self.finishStream(error)
            }
            self.heldHead = nil
            let chunks = self.heldChunks
            self.heldChunks = []
            self.heldBytes = 0
            switch self.state.withLock({ $0.headReceivedWithCompleteBody() }) {
            case .succeedHead(let continuation):
                continuation.resume(returning: UpstreamResponse(head: head, body: .buffered(chunks)))
            case .discard:
                break
            }
            return
        }
        self.finishStream(error)
    }

    private func finishStream(_ error: UpstreamError?) {
        switch self.state.withLock({ $0.transferCompleted(error) }) {
        case .none:
            break
        case .failHead(let continuation, let error):
            continuation.resume(throwing: error)
        case .finishBody(let source, nil):
            source.finish()
        case .finishBody(let source, let error?):
            source.finish(error)
        }
    }
}

/// Connects the body stream's demand to the transfer: more demand unpauses, termination cancels.
struct BodyDelegate: NIOAsyncSequenceProducerDelegate {
    let transfer: Transfer

    func produceMore() {
        self.transfer.produceMore()
    }

    func didTerminate() {
        self.transfer.consumerTerminated()
    }
}
