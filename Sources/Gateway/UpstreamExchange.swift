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
/// `circuit_breaker`): the loop `GatewayCore.RetryPolicy` documents, with the I/O filled in.
struct UpstreamExchange {
    let client: any UpstreamClient
    let metrics: GatewayMetrics
    let logger: Logger
    /// How much of an error body is read for the normalizer.
    let errorBodyLimit: Int

    /// The result and how many tries it took.
    func run(
        _ request: UpstreamRequest, upstream: UpstreamConfiguration, runtime: UpstreamRuntime
    ) async -> (ExchangeResult, attempts: Int) {
        let policy = RetryPolicy(upstream: upstream)
        let hasIdempotencyKey = request.headers[RetryPolicy.idempotencyKey] != nil
        let start = ContinuousClock.now
        let deadline = start + upstream.timeouts.request
        runtime.budget.recordRequest(now: start)
        var random = SystemRandomNumberGenerator()
        var spanIDs = RequestIDRandom()  // a span id per try, without a system call (see `TraceContext.of`)
        var attempt = 0
        var request = request

        /// Asks the policy about the try that just ended; on `.retry`, counts it and waits. True when the caller
        /// should try again (false after giving up, or when the wait was cancelled because the client went away).
        func shouldRetry(after outcome: RetryOutcome, attempt: Int, described: @autoclosure () -> String) async -> Bool {
            let decision = policy.decide(
                method: request.method, hasIdempotencyKey: hasIdempotencyKey, finishedAttempt: attempt,
                outcome: outcome, responseStarted: false, elapsed: ContinuousClock.now - start, using: &random,
                spendBudget: { runtime.budget.spendRetry(now: .now) })
            switch decision {
            case .retry(let wait, let reason):
                self.logger.debug(
                    "retrying", metadata: ["attempt": "\(attempt)", "outcome": "\(described())", "wait": "\(wait)"])
                self.metrics.retried(upstream: upstream.name, reason: reason.description)
                return await Self.sleep(wait)
            case .giveUp(let why):
                self.logger.debug("giving up", metadata: ["attempt": "\(attempt)", "reason": "\(why)"])
                return false
            }
        }

        while true {
            attempt += 1
            let tryStart = ContinuousClock.now
            var isProbe = false
            if let breaker = runtime.breaker {
                switch breaker.requestStarting(now: tryStart) {
                case .proceed: break
                case .proceedAsProbe: isProbe = true
                case .failFast(let retryAfter):
                    return (.circuitOpen(retryAfter: retryAfter), attempt - 1)
                }
            }
            request.headTimeout = max(.milliseconds(1), min(upstream.timeouts.perTry, deadline - tryStart))
            request.beginTry(using: &spanIDs)

            do {
                let response = try await runtime.execute(request, on: self.client)
                self.metrics.upstreamTryFinished(
                    upstream: upstream.name, outcome: .response, duration: ContinuousClock.now - tryStart)
                self.finish(runtime, CircuitBreaker.Outcome(status: response.head.status), isProbe, upstream: upstream)
                if response.head.status < 400 {
                    return (.response(response), attempt)
                }
                let outcome = RetryOutcome.response(
                    status: response.head.status, headers: response.head.headers,
                    nowUnixSeconds: DateHeader.unixSeconds())
                // Retrying drops `response`, and with it its body, which cancels its transfer.
                if await shouldRetry(after: outcome, attempt: attempt, described: "status \(response.head.status)") {
                    continue
                }
                let (body, complete) = await self.readPrefix(of: response.body, upstream: upstream.name)
                return (.errorResponse(response.head, body: body, complete: complete), attempt)
            } catch let error as UpstreamError {
                self.metrics.upstreamTryFinished(
                    upstream: upstream.name, outcome: .failed(error.code), duration: ContinuousClock.now - tryStart)
                self.finish(runtime, CircuitBreaker.Outcome(errorCode: error.code), isProbe, upstream: upstream)
                if error.code == .cancelled || Task.isCancelled { return (.transportFailure(error), attempt) }
                if await shouldRetry(after: .transportFailure(error.code), attempt: attempt, described: "\(error)") {
                    continue
                }
                return (.transportFailure(error), attempt)
            } catch {
                self.finish(runtime, .neutral, isProbe, upstream: upstream)
                return (.transportFailure(UpstreamError(.cancelled, detail: "\(error)")), attempt)
            }
        }
    }

    private func finish(_ runtime: UpstreamRuntime, _ outcome: CircuitBreaker.Outcome, _ isProbe: Bool, upstream: UpstreamConfiguration) {
        guard let breaker = runtime.breaker else { return }
        switch breaker.requestFinished(outcome, wasProbe: isProbe, now: .now) {
        case .none: break
        case .opened(let duration):
            self.logger.warning("circuit opened", metadata: ["upstream": "\(upstream.name)", "for": "\(duration)"])
        case .closed:
            self.logger.notice("circuit closed", metadata: ["upstream": "\(upstream.name)"])
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
