import GatewayCore
import HTTPTypes
import Logging
import NIOCore

/// How the tries at an upstream ended, once the retry policy gave its last word.
enum ExchangeResult {
    /// A response to pass through (status < 400, or an error response no dialect will rewrite): stream it.
    case response(UpstreamResponse)
    /// An error response (status >= 400) whose body prefix was read for the normalizer.
    case errorResponse(UpstreamResponseHead, body: ByteBuffer, complete: Bool)
    /// No response: the last try's transport failure.
    case transportFailure(UpstreamError)
    /// The circuit is open: fail fast.
    case circuitOpen(retryAfter: Duration)
}

/// Sends a request to an upstream and retries per its policy (SPEC section 2 `retry`, `timeouts`,
/// `circuit_breaker`): the I/O shell of `GatewayCore.RetryStateMachine`, which decides every step; this carries the
/// steps out (calls, waits, reading an error body's prefix), reads the clock, and counts and logs what happened.
struct UpstreamExchange {
    let client: any UpstreamClient
    let metrics: GatewayMetrics
    let logger: Logger
    /// How much of an error body is read for the normalizer.
    let errorBodyLimit: Int

    /// The result and how many tries it took.
    /// `request` is consumed: each try rewrites its `traceparent` in place, and a copy still held by the caller would
    /// make that rewrite copy every header field first.
    func run(
        _ request: consuming UpstreamRequest, upstream: UpstreamConfiguration, runtime: UpstreamRuntime
    ) async -> (ExchangeResult, attempts: Int) {
        var machine = RetryStateMachine(
            policy: RetryPolicy(upstream: upstream), perTryTimeout: upstream.timeouts.perTry,
            method: request.method,
            hasIdempotencyKey: request.headers.contains { $0.name == RetryPolicy.idempotencyKey },
            budget: runtime.budget, breaker: runtime.breaker, generator: SystemRandomNumberGenerator())
        var spanIDs = RequestIDRandom()  // a span id per try, without a system call (see `TraceContext.of`)
        /// The last try's response, or its transport failure.
        var response: UpstreamResponse?
        var failure = UpstreamError(.cancelled, detail: "no try was made")
        var action = machine.start(now: .now)

        while true {
            switch action {
            case .callUpstream(let attempt, let headTimeout):
                request.headTimeout = headTimeout
                request.beginTry(using: &spanIDs)
                let tryStart = ContinuousClock.now
                let result: RetryStateMachine<SystemRandomNumberGenerator>.TryResult
                do {
                    let received = try await runtime.execute(request, on: self.client)
                    response = received
                    let status = received.head.status
                    // Only an error response may be retried: the headers of any other are not read for a hint.
                    let hint =
                        status < 400
                        ? nil
                        : RetryHint.seconds(
                            status: status, headers: received.head.headers, nowUnixSeconds: DateHeader.unixSeconds())
                    result = .response(status: status, retryHintSeconds: hint)
                    self.metrics.upstreamTryFinished(
                        upstream: upstream.name, outcome: .response, duration: ContinuousClock.now - tryStart)
                } catch let error as UpstreamError {
                    failure = error
                    result = error.code == .cancelled || Task.isCancelled ? .cancelled : .failed(error.code)
                    self.metrics.upstreamTryFinished(
                        upstream: upstream.name, outcome: .failed(error.code), duration: ContinuousClock.now - tryStart)
                } catch {
                    failure = UpstreamError(.cancelled, detail: "\(error)")
                    result = .cancelled
                }
                let circuit: CircuitBreaker.FinishAction
                (action, circuit) = machine.tryEnded(result, now: .now)
                self.log(circuit, upstream: upstream.name)
                if case .wait(let duration, _) = action, self.logger.logLevel <= .debug {
                    let outcome = response.map { "status \($0.head.status)" } ?? "\(failure)"
                    self.logger.debug(
                        "retrying", metadata: ["attempt": "\(attempt)", "outcome": "\(outcome)", "wait": "\(duration)"])
                }

            case .wait(let duration, let reason):
                self.metrics.retried(upstream: upstream.name, reason: reason.description)
                // Dropping the response drops its body, which cancels its transfer.
                response = nil
                guard await Self.sleep(duration) else {
                    let cancelled = UpstreamError(.cancelled, detail: "the client went away during a retry's wait")
                    return (.transportFailure(cancelled), machine.attempts)
                }
                action = machine.waitEnded(now: .now)

            case .failFast(let retryAfter):
                return (.circuitOpen(retryAfter: retryAfter), machine.attempts)

            case .deliverResponse:
                guard let response else { preconditionFailure("deliverResponse without a response") }
                return (.response(response), machine.attempts)

            case .deliverErrorResponse(let why):
                guard let response else { preconditionFailure("deliverErrorResponse without a response") }
                self.logger.debug("giving up", metadata: ["attempt": "\(machine.attempts)", "reason": "\(why)"])
                let (body, complete) = await self.readPrefix(of: response.body, upstream: upstream.name)
                return (.errorResponse(response.head, body: body, complete: complete), machine.attempts)

            case .deliverFailure(let why):
                if let why {
                    self.logger.debug("giving up", metadata: ["attempt": "\(machine.attempts)", "reason": "\(why)"])
                }
                return (.transportFailure(failure), machine.attempts)
            }
        }
    }

    private func log(_ circuit: CircuitBreaker.FinishAction, upstream: String) {
        switch circuit {
        case .none: break
        case .opened(let duration):
            self.logger.warning("circuit opened", metadata: ["upstream": "\(upstream)", "for": "\(duration)"])
        case .closed:
            self.logger.notice("circuit closed", metadata: ["upstream": "\(upstream)"])
        }
    }

    /// Sleeps; false when the request was cancelled meanwhile (its client went away).
    private static func sleep(_ duration: Duration) async -> Bool {
        do {
            try await Task.sleep(for: duration)
            return true
        } catch {
            return false
        }
    }

    /// Reads up to `errorBodyLimit` bytes of a body; the rest is not read (dropping the stream cancels it).
    ///
    /// A body that breaks on the way (reset, shorter than its `Content-Length`, idle timeout) is counted
    /// (`gateway_upstream_body_errors_total`) and logged, and yields an empty prefix: the envelope is then built from
    /// the status and headers, never from a fragment that would read as if it were the whole error.
    private func readPrefix(of body: UpstreamResponseBody, upstream: String) async -> (ByteBuffer, complete: Bool) {
        if let chunks = body.bufferedChunks, chunks.count == 1, chunks[0].readableBytes <= self.errorBodyLimit {
            // An error body that came whole with its head, in one chunk (most do), is its own prefix: not copied.
            return (chunks[0], true)
        }
        var collected = ByteBuffer()
        do {
            for try await chunk in body {
                var chunk = chunk
                let room = self.errorBodyLimit - collected.readableBytes
                if chunk.readableBytes > room {
                    if var slice = chunk.readSlice(length: room) { collected.writeBuffer(&slice) }
                    return (collected, false)
                }
                collected.writeBuffer(&chunk)
            }
            return (collected, true)
        } catch {
            let code = (error as? UpstreamError)?.code ?? .cancelled
            self.metrics.upstreamBodyFailed(upstream: upstream, code: code)
            self.logger.warning(
                "upstream error body broke; the envelope is built from status and headers",
                metadata: ["upstream": "\(upstream)", "error": "\(error)", "bytes.read": "\(collected.readableBytes)"])
            return (ByteBuffer(), false)
        }
    }
}
