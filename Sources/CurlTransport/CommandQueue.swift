import CCurl
import GatewayCore
import Synchronization

/// What another thread asks the engine thread to do; only the engine thread touches curl handles.
enum EngineCommand {
    case start(Transfer)
    case cancel(Transfer, UpstreamError)
    case resume(Transfer)
    case shutdown
}

/// The locked queue between the world and the engine thread, and the owner of the `CURLM` and its reactor.
///
/// Pushing a command wakes the engine through the reactor's eventfd (`ccurl_reactor_wake`, callable from any
/// thread). The multi handle and the reactor live exactly as long as this queue, and every transfer and the engine
/// thread hold the queue, so a wakeup never reaches a freed reactor.
final class CommandQueue: @unchecked Sendable {
    // @unchecked Sendable: `multi` is used by the engine thread only, and `reactor` by others only through
    // `ccurl_reactor_wake` (a write to its eventfd); everything else mutable is inside `state`.

    enum Lifecycle {
        case idle
        case running
        case stopping
        case stopped
    }

    private struct State {
        var pending: [EngineCommand] = []
        var lifecycle: Lifecycle = .idle
        /// The engine is in (or about to enter) its wait and must be woken for new commands.
        var engineSleeping = false
        var shutdownWaiters: [CheckedContinuation<Void, Never>] = []
    }

    /// The engine's `CURLM`; engine thread only.
    let multi: UnsafeMutableRawPointer
    /// What the engine waits in: curl's sockets in an epoll set and the eventfd that wakes it (see `ccurl_reactor`).
    let reactor: UnsafeMutablePointer<ccurl_reactor>
    private let state = Mutex(State())

    init?() {
        guard let multi = curl_multi_init() else { return nil }
        guard let reactor = ccurl_reactor_create(multi) else {
            curl_multi_cleanup(multi)
            return nil
        }
        self.multi = multi
        self.reactor = reactor
    }

    deinit {
        // curl may still report sockets to remove while it cleans up: the reactor goes after it.
        curl_multi_cleanup(self.multi)
        ccurl_reactor_destroy(self.reactor)
    }

    /// Queues a command and wakes the engine; false when the engine has stopped (the command was not queued).
    @discardableResult
    func push(_ command: EngineCommand) -> Bool {
        let (accepted, wake) = self.state.withLock { state -> (Bool, Bool) in
            switch state.lifecycle {
            case .idle, .running, .stopping:
                state.pending.append(command)
                // Only the first command after the engine went to sleep pays for a wakeup (a system call); a busy
                // engine picks the command up on its next turn anyway.
                let wake = state.engineSleeping
                state.engineSleeping = false
                return (true, wake)
            case .stopped:
                return (false, false)
            }
        }
        if wake {
            ccurl_reactor_wake(self.reactor)
        }
        return accepted
    }

    /// Called by the engine before it waits: false when commands are waiting (a wait would delay them); true when
    /// the engine may sleep, after which a `push` wakes it.
    func prepareToSleep() -> Bool {
        self.state.withLock { state in
            guard state.pending.isEmpty else { return false }
            state.engineSleeping = true
            return true
        }
    }

    /// Called by the engine after its wait returned.
    func didWake() {
        self.state.withLock { $0.engineSleeping = false }
    }

    /// Moves every pending command into `buffer`, which must be empty; engine thread. The two arrays are swapped, so
    /// the queue goes on with the buffer's capacity and neither side allocates once both have grown.
    func takeAll(into buffer: inout [EngineCommand]) {
        self.state.withLock { state in
            swap(&state.pending, &buffer)
        }
    }

    /// True when the caller must start the engine thread (the first call only).
    func beginRunning() -> Bool {
        self.state.withLock { state in
            switch state.lifecycle {
            case .idle:
                state.lifecycle = .running
                return true
            case .running, .stopping, .stopped:
                return false
            }
        }
    }

    enum ShutdownAction {
        /// The thread runs: a `shutdown` command was queued; wait for the engine to stop.
        case wait
        /// Nothing runs (never started, or already stopped).
        case none
    }

    func beginShutdown() -> ShutdownAction {
        let action = self.state.withLock { state -> ShutdownAction in
            switch state.lifecycle {
            case .idle:
                state.lifecycle = .stopped
                return .none
            case .running:
                state.lifecycle = .stopping
                state.pending.append(.shutdown)
                return .wait
            case .stopping:
                return .wait
            case .stopped:
                return .none
            }
        }
        if case .wait = action {
            ccurl_reactor_wake(self.reactor)
        }
        return action
    }

    /// Suspends until the engine thread has stopped.
    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = self.state.withLock { state -> Bool in
                switch state.lifecycle {
                case .stopped:
                    return true
                case .idle, .running, .stopping:
                    state.shutdownWaiters.append(continuation)
                    return false
                }
            }
            if stopped {
                continuation.resume()
            }
        }
    }

    /// The engine thread is leaving: no command is accepted any more. Returns the commands that raced in and the
    /// shutdown waiters, for the engine to settle outside the lock.
    func engineStopped() -> (leftovers: [EngineCommand], waiters: [CheckedContinuation<Void, Never>]) {
        self.state.withLock { state in
            state.lifecycle = .stopped
            let result = (state.pending, state.shutdownWaiters)
            state.pending = []
            state.shutdownWaiters = []
            return result
        }
    }
}
