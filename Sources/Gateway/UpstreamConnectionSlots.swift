import GatewayCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Bounds the connections to one upstream (`max_connections`) by bounding the tries that may hold one.
///
/// libcurl's own limit (`CURLMOPT_MAX_HOST_CONNECTIONS`) is one number for the whole multi handle, so a limit per
/// upstream is kept here, in front of the engine:
/// - over HTTP/1.1 a try holds its connection from start to the end of its body, so at most `limit` tries run at
///   once and the others wait, first come first served, within the try's head timeout;
/// - once the upstream answered over HTTP/2, tries are multiplexed (the engine sets `CURLOPT_PIPEWAIT`, so curl
///   puts a new try on a connection it can share instead of opening one), and up to ``streamsPerConnection`` tries
///   per connection run at once.
///
/// A slot is taken before the try starts and given back when its body ended, broke, or was dropped.
final class UpstreamConnectionSlots: Sendable {
    /// Concurrent streams counted per connection over HTTP/2 (servers commonly allow 100 to 128).
    static let streamsPerConnection = 100

    private struct Waiter {
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var inUse = 0
        var multiplexed = false
        var nextID = 0
        /// Waiting tries by id, served in id order.
        var waiters: [Int: Waiter] = [:]
    }

    let limit: Int
    private let state = NIOLockedValueBox(State())

    init(limit: Int) {
        self.limit = limit
    }

    private func capacity(_ state: State) -> Int {
        state.multiplexed ? self.limit * Self.streamsPerConnection : self.limit
    }

    /// Takes a slot, waiting up to `timeout` for one.
    /// - Throws: ``UpstreamError`` `.timedOut` when none came free in time, `.cancelled` when the task was.
    func acquire(timeout: Duration) async throws {
        let id: Int? = self.state.withLockedValue { state in
            if state.waiters.isEmpty, state.inUse < self.capacity(state) {
                state.inUse += 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return }
        enum Registration {
            case waiting
            case granted
            case cancelled
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let registration = self.state.withLockedValue { state -> Registration in
                    if Task.isCancelled { return .cancelled }
                    // A slot may have come free since the first look (its release found no waiter to hand it to).
                    if state.waiters.isEmpty, state.inUse < self.capacity(state) {
                        state.inUse += 1
                        return .granted
                    }
                    state.waiters[id] = Waiter(continuation: continuation)
                    return .waiting
                }
                switch registration {
                case .granted:
                    continuation.resume()
                    return
                case .cancelled:
                    continuation.resume(throwing: Self.cancelled)
                    return
                case .waiting:
                    break
                }
                // The timer is the one place a waiting try times out; a grant or a cancel first makes it a no-op.
                MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(timeout)) {
                    self.abandon(id, UpstreamError(.timedOut, detail: "no upstream connection free within the timeout"))
                }
            }
        } onCancel: {
            self.abandon(id, Self.cancelled)
        }
    }

    private static let cancelled = UpstreamError(.cancelled, detail: "cancelled waiting for a connection")

    /// Fails a waiter that is still waiting (a grant that came first wins).
    private func abandon(_ id: Int, _ error: UpstreamError) {
        let waiter = self.state.withLockedValue { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(throwing: error)
    }

    /// Gives a slot back, handing it to the longest waiter if there is one.
    func release() {
        let granted = self.state.withLockedValue { state -> [Waiter] in
            state.inUse -= 1
            return self.grant(&state)
        }
        for waiter in granted { waiter.continuation.resume() }
    }

    /// A response arrived; over HTTP/2 the upstream multiplexes, and more tries may run at once.
    func observed(isHTTP2: Bool) {
        let granted = self.state.withLockedValue { state -> [Waiter] in
            guard state.multiplexed != isHTTP2 else { return [] }
            state.multiplexed = isHTTP2
            return self.grant(&state)
        }
        for waiter in granted { waiter.continuation.resume() }
    }

    private func grant(_ state: inout State) -> [Waiter] {
        var granted: [Waiter] = []
        while state.inUse < self.capacity(state), let id = state.waiters.keys.min() {
            granted.append(state.waiters.removeValue(forKey: id)!)
            state.inUse += 1
        }
        return granted
    }

    /// Slots in use (for tests).
    var inUse: Int { self.state.withLockedValue { $0.inUse } }

    /// Tries waiting for a slot (for tests).
    var waiting: Int { self.state.withLockedValue { $0.waiters.count } }

    /// Runs one try within a slot: the slot is held until the response body ended or was dropped.
    func execute(_ request: UpstreamRequest, on client: any UpstreamClient) async throws -> UpstreamResponse {
        let start = ContinuousClock.now
        try await self.acquire(timeout: request.headTimeout)
        let lease = Lease(self)
        var request = request
        request.headTimeout = max(.milliseconds(1), request.headTimeout - (ContinuousClock.now - start))
        do {
            let response = try await client.execute(request)
            self.observed(isHTTP2: response.head.isHTTP2)
            let body = UpstreamResponseBody(LeasedBody(base: response.body, lease: lease))
            return UpstreamResponse(head: response.head, body: body)
        } catch {
            lease.end()
            throw error
        }
    }

    /// One slot taken; given back once, when ended or when the last reference goes.
    final class Lease: Sendable {
        private let slots: UpstreamConnectionSlots
        private let ended = NIOLockedValueBox(false)

        init(_ slots: UpstreamConnectionSlots) {
            self.slots = slots
        }

        func end() {
            let first = self.ended.withLockedValue { ended in
                defer { ended = true }
                return !ended
            }
            if first { self.slots.release() }
        }

        deinit {
            self.end()
        }
    }

    /// A body that gives its slot back when it ends or breaks (and, dropped, when its lease goes).
    struct LeasedBody: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let base: UpstreamResponseBody
        let lease: Lease

        func makeAsyncIterator() -> Iterator {
            Iterator(base: self.base.makeAsyncIterator(), lease: self.lease)
        }

        struct Iterator: AsyncIteratorProtocol {
            var base: UpstreamResponseBody.AsyncIterator
            let lease: Lease

            mutating func next() async throws -> ByteBuffer? {
                do {
                    guard let chunk = try await self.base.next() else {
                        self.lease.end()
                        return nil
                    }
                    return chunk
                } catch {
                    self.lease.end()
                    throw error
                }
            }
        }
    }
}
