import NIOCore

/// Stops the gateway from waiting on a dead Redis for every request.
///
/// Valid transitions are:
/// - `closed(n)` → `closed(n + 1)` on a failure below the threshold; → `open` when it reaches it (logged);
///   → `closed(0)` on a success.
/// - `open(until)` → `probing` when a request comes after `until`: that one request is sent as a probe, the
///   others are answered at once without asking Redis.
/// - `probing` → `closed(0)` when the probe succeeds (logged as recovered); → `open` again when it fails.
/// A result that arrives while `open` (a request sent before the breaker opened) changes nothing but a success,
/// which closes it: Redis answered, so it is back.
struct RedisStoreBreaker {
    private enum State {
        case closed(consecutiveFailures: Int)
        case open(until: NIODeadline)
        case probing
    }

    /// Whether a request may go to Redis.
    enum Permission: Equatable {
        case proceed
        /// The first request after the cool-down: it goes to Redis and decides whether the breaker closes.
        case probe
        /// Answer `storeUnavailable` without asking Redis.
        case failFast
    }

    /// A change worth a log line and a metric.
    enum Transition: Equatable {
        case opened
        case recovered
    }

    private var state = State.closed(consecutiveFailures: 0)
    let threshold: Int
    let coolDown: TimeAmount

    init(threshold: Int, coolDown: TimeAmount) {
        self.threshold = max(1, threshold)
        self.coolDown = coolDown
    }

    var isDegraded: Bool {
        switch self.state {
        case .closed: return false
        case .open, .probing: return true
        }
    }

    mutating func permission(now: NIODeadline) -> Permission {
        switch self.state {
        case .closed:
            return .proceed
        case .open(let until) where now >= until:
            self.state = .probing
            return .probe
        case .open, .probing:
            return .failFast
        }
    }

    mutating func succeeded() -> Transition? {
        switch self.state {
        case .closed:
            self.state = .closed(consecutiveFailures: 0)
            return nil
        case .open, .probing:
            self.state = .closed(consecutiveFailures: 0)
            return .recovered
        }
    }

    mutating func failed(now: NIODeadline, wasProbe: Bool) -> Transition? {
        switch self.state {
        case .closed(let failures) where failures + 1 >= self.threshold:
            self.state = .open(until: now + self.coolDown)
            return .opened
        case .closed(let failures):
            self.state = .closed(consecutiveFailures: failures + 1)
            return nil
        case .probing where wasProbe:
            self.state = .open(until: now + self.coolDown)
            return nil
        case .probing, .open:
            return nil
        }
    }
}
