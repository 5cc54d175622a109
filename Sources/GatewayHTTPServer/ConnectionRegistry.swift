import NIOConcurrencyHelpers
import NIOCore

/// The open client connections of one listener: counted for `max_connections`, and told to drain on shutdown.
///
/// Draining follows RFC 9112 section 9.6: a connection waiting for a request is closed at once; one with a request
/// in progress finishes its response with `Connection: close` and then closes.
final class ConnectionRegistry: Sendable {
    /// One connection's drain-relevant state.
    final class Entry: Sendable {
        private struct State {
            var waitingForRequest = true
            var draining = false
        }

        let channel: any Channel
        private let state = NIOLockedValueBox(State())

        init(channel: any Channel) {
            self.channel = channel
        }

        /// Marks the connection as busy with a request; returns false if it is draining and must not start one.
        func beginRequest() -> Bool {
            self.state.withLockedValue { state in
                state.waitingForRequest = false
                return !state.draining
            }
        }

        /// Marks the connection as waiting for its next request, after a response has ended and before anything
        /// more is read (from then on a drain closes it at once); returns false if it is draining already and must
        /// close instead.
        func readyForNextRequest() -> Bool {
            self.state.withLockedValue { state in
                state.waitingForRequest = true
                return !state.draining
            }
        }

        /// Whether the response in progress must close the connection.
        var isDraining: Bool { self.state.withLockedValue { $0.draining } }

        fileprivate func drain() {
            let closeNow = self.state.withLockedValue { state in
                state.draining = true
                return state.waitingForRequest
            }
            if closeNow { self.channel.close(promise: nil) }
        }
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var draining = false
        /// `closeAll()` was called: a connection registered later (accepted just before the listener closed) is
        /// closed at once.
        var closing = false
        /// Waiting for the last connection to end.
        var emptyWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = NIOLockedValueBox(State())

    /// Registers a connection; returns nil when the registry already holds `limit` connections.
    ///
    /// The entry goes when the channel's close future completes, however the channel ends: also when it closes
    /// before it ever became active (a connection reset while it was being set up), where no handler sees
    /// `channelInactive`. An entry left behind would keep ``waitUntilEmpty()``, and with it a graceful stop, waiting
    /// for ever (a run of the whole suite hung so, after a slowloris test).
    func register(_ channel: any Channel, limit: Int) -> Entry? {
        let entry = Entry(channel: channel)
        let (accepted, drainNow, closeNow) = self.state.withLockedValue { state -> (Bool, Bool, Bool) in
            guard state.entries.count < limit else { return (false, false, false) }
            state.entries[ObjectIdentifier(channel)] = entry
            return (true, state.draining, state.closing)
        }
        guard accepted else { return nil }
        channel.closeFuture.whenComplete { _ in self.remove(channel) }
        if closeNow {
            channel.close(promise: nil)
        } else if drainNow {
            entry.drain()
        }
        return entry
    }

    private func remove(_ channel: any Channel) {
        let waiters = self.state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard state.entries.removeValue(forKey: ObjectIdentifier(channel)) != nil, state.entries.isEmpty else {
                return []
            }
            defer { state.emptyWaiters = [] }
            return state.emptyWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let empty = self.state.withLockedValue { state -> Bool in
                if state.entries.isEmpty { return true }
                state.emptyWaiters.append(continuation)
                return false
            }
            if empty { continuation.resume() }
        }
    }

    var count: Int { self.state.withLockedValue { $0.entries.count } }

    /// Closes idle connections and makes busy ones close after their response.
    func drainAll() {
        let entries = self.state.withLockedValue { state in
            state.draining = true
            return Array(state.entries.values)
        }
        for entry in entries { entry.drain() }
    }

    /// Closes every connection at once (the drain timeout ran out).
    func closeAll() {
        let entries = self.state.withLockedValue { state in
            state.closing = true
            return Array(state.entries.values)
        }
        for entry in entries { entry.channel.close(promise: nil) }
    }
}
