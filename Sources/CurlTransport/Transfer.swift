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
    typealias HeadContinuation = CheckedContinuation<UpstreamResponse, any Error>
    typealias StateMachine = TransferStateMachine<HeadContinuation, BodySequence.Source>

    let request: UpstreamRequest
    let queue: CommandQueue
    private let watermarks: (low: Int, high: Int)
    private let idleTimeout: TimeAmount
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
    var headDeadline = NIODeadline.distantFuture
    var lastProgress = NIODeadline.distantPast
    var activeIndex = -1
    /// The loop running this transfer, while it runs (to move its deadline earlier when the head arrives).
    var loop: EngineLoop?
    private let allocator = ByteBufferAllocator()

    init(request: UpstreamRequest, queue: CommandQueue, watermarks: (low: Int, high: Int)) {
        self.request = request
        self.queue = queue
        self.watermarks = watermarks
        self.idleTimeout = TimeAmount(request.idleTimeout)
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
    var currentDeadline: NIODeadline {
        if !self.headDelivered { return self.headDeadline }
        if self.curlPaused { return .distantFuture }
        return self.lastProgress + self.idleTimeout
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
            self.lastProgress = .now()
            self.loop?.noteDeadline(self.currentDeadline)
            let made = BodySequence.makeSequence(
                elementType: ByteBuffer.self,
                backPressureStrategy: .init(lowWatermark: self.watermarks.low, highWatermark: self.watermarks.high),
                finishOnDeinit: false,
                delegate: BodyDelegate(transfer: self)
            )
            switch self.state.withLock({ $0.headReceived(source: made.source) }) {
            case .succeedHead(let continuation):
                continuation.resume(returning: UpstreamResponse(head: head, body: UpstreamResponseBody(made.sequence)))
                return line.count
            case .discard:
                made.source.finish()
                self.pendingError = self.pendingError ?? UpstreamError(.cancelled, detail: "nobody waits")
                return 0
            }
        }
    }

    /// The write callback: one chunk of the body. Returns the bytes taken, `CURL_WRITEFUNC_PAUSE` to have curl
    /// keep the chunk and pause, or 0 to abort.
    func receiveBody(_ chunk: UnsafeRawBufferPointer) -> Int {
        if chunk.isEmpty { return 0 }
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
            self.lastProgress = .now()
            let outcome: StateMachine.YieldOutcome
            switch source.yield(self.allocator.buffer(bytes: chunk)) {
            case .produceMore: outcome = .produceMore
            case .stopProducing: outcome = .stopProducing
            case .dropped: outcome = .dropped
            }
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
