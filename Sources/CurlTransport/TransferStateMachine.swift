import GatewayCore

/// The life of one transfer, as a value: every event returns the action its owner must carry out.
///
/// Valid transitions:
/// - `idle` → `awaitingHead` (start) or `cancelledBeforeStart` (task cancelled first; then start → `finished`);
/// - `awaitingHead` → `streaming(running)` (head), or `finished` (head with the complete body, task cancelled,
///   failure);
/// - `streaming`: `running` → `pausePending` (yield said stop) → `paused` (next chunk refused) → `running`
///   (consumer demand); → `finished` (completed, failed, consumer gone).
///
/// Events come from three places: the task calling `execute` (`start`, `taskCancelled`), the engine thread
/// (`engineWillStart`, `headReceived`, `bodyReceived`, `didYield`, `transferCompleted`), and the body's consumer
/// (`produceMore`, `consumerTerminated`). The owner holds the machine behind a lock and acts after unlocking.
///
/// Generic over the continuation and the body source, so the logic is tested without curl or NIO.
struct TransferStateMachine<HeadContinuation, BodySource> {
    /// Whether curl may hand us body bytes.
    enum Flow: Equatable {
        /// The consumer wants more: chunks are yielded.
        case running
        /// The consumer's buffer went above the high watermark: the next chunk is refused with PAUSE.
        case pausePending
        /// curl holds a refused chunk and waits for `curl_easy_pause(CONT)`.
        case paused
    }

    private enum State {
        /// Created; `execute` has not registered its continuation yet.
        case idle
        /// The calling task was cancelled before `start`.
        case cancelledBeforeStart
        /// The transfer is queued or running on the engine; `execute` waits for the head.
        case awaitingHead(HeadContinuation)
        /// The head went to `execute`'s caller; the body streams.
        /// `demandArrivedEarly`: `produceMore` overtook the `stopProducing` result of the yield it answers.
        case streaming(BodySource, Flow, demandArrivedEarly: Bool)
        /// Completed, failed or cancelled: nothing more happens.
        case finished
    }

    private var state: State = .idle

    init() {}

    // MARK: start / cancellation by the calling task

    enum StartAction {
        /// Push a `start` command to the engine.
        case enqueueStart
        /// The task was already cancelled: fail `execute` now.
        case failHead(HeadContinuation, UpstreamError)
    }

    mutating func start(_ continuation: HeadContinuation) -> StartAction {
        switch self.state {
        case .idle:
            self.state = .awaitingHead(continuation)
            return .enqueueStart
        case .cancelledBeforeStart:
            self.state = .finished
            return .failHead(continuation, UpstreamError(.cancelled, detail: "task cancelled"))
        case .awaitingHead, .streaming, .finished:
            self.illegal("start")
        }
    }

    enum TaskCancelledAction {
        case none
        /// Fail `execute` with `.cancelled` and push a `cancel` command so the engine drops the handle.
        case failHeadAndCancelTransfer(HeadContinuation, UpstreamError)
    }

    mutating func taskCancelled() -> TaskCancelledAction {
        switch self.state {
        case .idle:
            self.state = .cancelledBeforeStart
            return .none
        case .awaitingHead(let continuation):
            self.state = .finished
            return .failHeadAndCancelTransfer(continuation, UpstreamError(.cancelled, detail: "task cancelled"))
        case .cancelledBeforeStart, .streaming, .finished:
            // After the head, the body's consumer owns the transfer: its own cancellation ends the stream.
            return .none
        }
    }

    // MARK: engine thread

    /// Asked by the engine before it adds the handle: false when the transfer was cancelled meanwhile.
    func engineWillStart() -> Bool {
        switch self.state {
        case .awaitingHead:
            return true
        case .finished:
            return false
        case .idle, .cancelledBeforeStart, .streaming:
            self.illegal("engineWillStart")
        }
    }

    enum HeadAction {
        /// Resume `execute` with the response; the body streams from the source just stored.
        case succeedHead(HeadContinuation)
        /// Nobody waits any more: finish the source and abort the transfer.
        case discard
    }

    mutating func headReceived(source: BodySource) -> HeadAction {
        switch self.state {
        case .awaitingHead(let continuation):
            self.state = .streaming(source, .running, demandArrivedEarly: false)
            return .succeedHead(continuation)
        case .finished:
            return .discard
        case .idle, .cancelledBeforeStart, .streaming:
            self.illegal("headReceived")
        }
    }

    /// The head arrived and the transfer completed in the same engine turn, with the whole body held by the engine:
    /// `execute` gets the head with a body that needs no stream (`succeedHead`), or nobody waits any more (`discard`).
    mutating func headReceivedWithCompleteBody() -> HeadAction {
        switch self.state {
        case .awaitingHead(let continuation):
            self.state = .finished
            return .succeedHead(continuation)
        case .finished:
            return .discard
        case .idle, .cancelledBeforeStart, .streaming:
            self.illegal("headReceivedWithCompleteBody")
        }
    }

    enum BodyAction {
        /// Take the chunk and yield it to the source.
        case yield(BodySource)
        /// Refuse the chunk with `CURL_WRITEFUNC_PAUSE`; curl delivers it again after unpausing.
        case pause
        /// Refuse the chunk and abort the transfer (nobody reads it).
        case abort
    }

    mutating func bodyReceived() -> BodyAction {
        switch self.state {
        case .streaming(let source, .running, _):
            return .yield(source)
        case .streaming(let source, .pausePending, let early), .streaming(let source, .paused, let early):
            self.state = .streaming(source, .paused, demandArrivedEarly: early)
            return .pause
        case .finished:
            return .abort
        case .awaitingHead:
            // Body bytes before a final head: curl does not do this, but it is input-driven, so never crash.
            return .abort
        case .idle, .cancelledBeforeStart:
            self.illegal("bodyReceived")
        }
    }

    /// What `Source.yield` answered, without NIO's type.
    enum YieldOutcome {
        case produceMore
        case stopProducing
        case dropped
    }

    enum YieldAction: Equatable {
        case proceed
        /// The consumer is gone: abort the transfer.
        case abort
    }

    mutating func didYield(_ outcome: YieldOutcome) -> YieldAction {
        switch (self.state, outcome) {
        case (.streaming(let source, .running, _), .produceMore):
            self.state = .streaming(source, .running, demandArrivedEarly: false)
            return .proceed
        case (.streaming(let source, .running, let early), .stopProducing):
            // `produceMore` answering this very yield may have run before we got here: then keep running.
            self.state = .streaming(source, early ? .running : .pausePending, demandArrivedEarly: false)
            return .proceed
        case (.streaming, .dropped), (.finished, _):
            return .abort
        case (.streaming(_, .pausePending, _), .produceMore), (.streaming(_, .pausePending, _), .stopProducing),
            (.streaming(_, .paused, _), .produceMore), (.streaming(_, .paused, _), .stopProducing),
            (.idle, _), (.cancelledBeforeStart, _), (.awaitingHead, _):
            self.illegal("didYield")
        }
    }

    enum TransferCompletedAction {
        case none
        case failHead(HeadContinuation, UpstreamError)
        /// Finish the body stream: cleanly with nil, or by throwing the error.
        case finishBody(BodySource, UpstreamError?)
    }

    /// The engine removed the handle: with nil when curl finished the transfer successfully.
    mutating func transferCompleted(_ error: UpstreamError?) -> TransferCompletedAction {
        switch self.state {
        case .awaitingHead(let continuation):
            self.state = .finished
            return .failHead(continuation, error ?? UpstreamError(.protocolError, detail: "no response head"))
        case .streaming(let source, _, _):
            self.state = .finished
            return .finishBody(source, error)
        case .finished:
            return .none
        case .idle, .cancelledBeforeStart:
            self.illegal("transferCompleted")
        }
    }

    // MARK: consumer

    enum ProduceMoreAction: Equatable {
        case none
        /// Push a `resume` command: the engine unpauses the handle.
        case enqueueResume
    }

    mutating func produceMore() -> ProduceMoreAction {
        switch self.state {
        case .streaming(let source, .running, _):
            self.state = .streaming(source, .running, demandArrivedEarly: true)
            return .none
        case .streaming(let source, .pausePending, _):
            self.state = .streaming(source, .running, demandArrivedEarly: false)
            return .none
        case .streaming(let source, .paused, _):
            self.state = .streaming(source, .running, demandArrivedEarly: false)
            return .enqueueResume
        case .finished:
            return .none
        case .idle, .cancelledBeforeStart, .awaitingHead:
            self.illegal("produceMore")
        }
    }

    enum ConsumerTerminatedAction: Equatable {
        case none
        /// Push a `cancel` command: the upstream must not be kept busy for nobody.
        case cancelTransfer
    }

    mutating func consumerTerminated() -> ConsumerTerminatedAction {
        switch self.state {
        case .streaming:
            self.state = .finished
            return .cancelTransfer
        case .finished:
            return .none
        case .idle, .cancelledBeforeStart, .awaitingHead:
            self.illegal("consumerTerminated")
        }
    }

    // MARK: inspection

    /// The flow of a streaming transfer, nil otherwise.
    var flow: Flow? {
        if case .streaming(_, let flow, _) = self.state { return flow }
        return nil
    }

    var isFinished: Bool {
        if case .finished = self.state { return true }
        return false
    }

    private func illegal(_ event: StaticString, file: StaticString = #fileID, line: UInt = #line) -> Never {
        preconditionFailure(
            "TransferStateMachine: illegal event \(event) in state \(self.state)",
            file: file,
            line: line
        )
    }
}
