import CCurl
import GatewayCore
import Logging
import NIOCore

/// The engine thread's loop around one `CURLM`, driven by `curl_multi_socket_action` from an epoll set (the
/// queue's reactor, `ccurl_reactor` in the CCurl shim): commands → wait for ready sockets, curl's timer or a wake-up
/// → curl's due timers → finished transfers → deadlines.
///
/// Everything here runs on the engine thread, curl callbacks included; it is never shared.
final class EngineLoop {
    private let queue: CommandQueue
    private let multi: UnsafeMutableRawPointer
    private let reactor: UnsafeMutablePointer<ccurl_reactor>
    private let logger: Logger
    /// The connection pool's size (`CURLMOPT_MAXCONNECTS`): the configured size, grown to the most transfers ever in
    /// flight at once (see ``growPoolIfNeeded()``).
    private var poolSize: Int
    /// Easy handles kept for reuse at most: the configured pool size, not the grown one, so a burst of transfers
    /// does not leave thousands of idle handles behind. In a steady state handles come back as fast as new transfers
    /// take them, so the free list stays short and handles are rarely made anew.
    private let maxFreeHandles: Int

    /// Transfers whose handle is in the multi handle; `Transfer.activeIndex` makes removal O(1).
    private var active: [Transfer] = []
    private var freeHandles: [EasyHandle] = []
    private var commands: [EngineCommand] = []
    /// Transfers whose head arrived during this turn, handed out at its end (see `Transfer.heldHead`).
    private var heldHeads: [Transfer] = []
    private var heldHeadsBuffer: [Transfer] = []
    /// No engine-enforced deadline (head, idle) falls before this; a lower bound, rescanned when reached.
    private var nextDeadline: ContinuousClock.Instant?

    init(queue: CommandQueue, configuration: CurlEngine.Configuration, logger: Logger) {
        self.queue = queue
        self.multi = queue.multi
        self.reactor = queue.reactor
        self.logger = logger
        self.poolSize = max(16, configuration.pooledConnections)
        self.maxFreeHandles = self.poolSize
        _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_MAXCONNECTS, self.poolSize)
        if configuration.maxConnectionsPerHost > 0 {
            _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        }
    }

    /// Runs until a `shutdown` command; then fails what is in flight with `.cancelled` and frees every handle.
    ///
    /// A turn: commands → a wait in the reactor (no longer than the next deadline or curl's timer; not at all when
    /// commands are waiting or a timer is due), which hands curl each ready socket → curl's due timers → finished
    /// transfers → held heads → deadlines. Only the sockets that are ready and the timers that are due cost anything:
    /// transfers waiting on a slow upstream are not visited.
    func run() {
        var shuttingDown = false
        while !shuttingDown {
            self.queue.takeAll(into: &self.commands)
            for command in self.commands {
                switch command {
                case .start(let transfer):
                    self.start(transfer)
                case .cancel(let transfer, let error):
                    self.abort(transfer, error)
                case .resume(let transfer):
                    self.resume(transfer)
                case .shutdown:
                    shuttingDown = true
                }
            }
            self.commands.removeAll(keepingCapacity: true)
            if shuttingDown { break }

            if self.queue.prepareToSleep() {
                ccurl_reactor_wait(self.reactor, self.waitTimeout(now: .now))
                self.queue.didWake()
            } else {
                ccurl_reactor_wait(self.reactor, 0)
            }
            ccurl_reactor_run_timers(self.reactor)
            self.collectFinished()
            self.handOutHeldHeads()
            let now = ContinuousClock.now
            if let deadline = self.nextDeadline, now >= deadline {
                self.enforceDeadlines(now: now)
            }
        }

        let shutdownError = UpstreamError(.cancelled, detail: "engine shut down")
        while let transfer = self.active.last {
            self.abort(transfer, shutdownError)
        }
        let (leftovers, waiters) = self.queue.engineStopped()
        for command in leftovers {
            if case .start(let transfer) = command {
                transfer.completeWithoutEngine(shutdownError)
            }
        }
        for handle in self.freeHandles {
            handle.destroy()
        }
        self.freeHandles.removeAll()
        self.logger.debug("curl engine stopped")
        for waiter in waiters {
            waiter.resume()
        }
    }

    // MARK: commands

    private func start(_ transfer: Transfer) {
        guard transfer.engineWillStart() else { return }
        guard let easy = self.freeHandles.popLast() ?? EasyHandle.make() else {
            transfer.completeWithoutEngine(UpstreamError(.overloaded, detail: "curl_easy_init failed"))
            return
        }
        let context = Unmanaged.passRetained(transfer).toOpaque()
        do {
            transfer.headerList = try easy.configure(for: transfer.request, context: context, reactor: self.reactor)
        } catch {
            Unmanaged<Transfer>.fromOpaque(context).release()
            self.recycle(easy)
            transfer.completeWithoutEngine(error)
            return
        }
        let code = curl_multi_add_handle(self.multi, easy.raw)
        guard code == CURLM_OK else {
            Unmanaged<Transfer>.fromOpaque(context).release()
            HeaderList.free(transfer.headerList)
            transfer.headerList = nil
            self.recycle(easy)
            transfer.completeWithoutEngine(UpstreamError(.overloaded, detail: "curl_multi_add_handle failed"))
            return
        }
        transfer.easy = easy
        transfer.loop = self
        transfer.headDeadline = .now + transfer.request.headTimeout
        transfer.activeIndex = self.active.count
        self.active.append(transfer)
        self.noteDeadline(transfer.headDeadline)
        self.growPoolIfNeeded()
    }

    /// A pool smaller than the transfers in flight closes connections as they come back while others are being
    /// opened (a handshake per request, sockets piling up in TIME_WAIT): it doubles when the transfers outnumber it.
    /// It never shrinks; idle connections beyond what is needed close on the upstream's keep-alive timeout (curl
    /// finds them dead) or at curl's maximum connection age.
    private func growPoolIfNeeded() {
        guard self.active.count > self.poolSize else { return }
        self.poolSize = max(self.poolSize * 2, self.active.count)
        _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_MAXCONNECTS, self.poolSize)
    }

    private func resume(_ transfer: Transfer) {
        guard let easy = transfer.easy, transfer.curlPaused else { return }
        transfer.curlPaused = false
        transfer.lastProgress = .now
        self.noteDeadline(transfer.currentDeadline)
        // May call the write callback again before it returns (it re-delivers the refused chunk): no lock is held.
        let code = curl_easy_pause(easy.raw, CCURL_PAUSE_CONT)
        if code != CURLE_OK {
            // The re-delivered chunk was refused (consumer gone) or the connection broke: end it here rather than
            // leave a handle curl may never report as done.
            self.abort(
                transfer,
                UpstreamError(CurlErrorClassification.code(for: code), detail: CurlErrorClassification.text(for: code))
            )
        }
    }

    /// Stops a transfer for a reason of ours (cancel, deadline, shutdown); a no-op when it is not running.
    private func abort(_ transfer: Transfer, _ error: UpstreamError) {
        guard let easy = transfer.easy else { return }
        transfer.pendingError = transfer.pendingError ?? error
        // A connection left in the middle of a response can never be reused: tell curl to close it as the handle is
        // removed (it does so for premature removals anyway; this states it). The option is cleared again when the
        // handle is recycled.
        _ = ccurl_easy_setopt_long(easy.raw, CURLOPT_FORBID_REUSE, 1)
        self.finish(transfer, error: transfer.pendingError)
    }

    // MARK: completion

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            var privatePointer: UnsafeMutableRawPointer?
            _ = ccurl_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &privatePointer)
            guard let privatePointer else { continue }
            let transfer = Unmanaged<Transfer>.fromOpaque(privatePointer).takeUnretainedValue()
            let error: UpstreamError?
            if let pending = transfer.pendingError {
                error = pending
            } else if result == CURLE_OK {
                error = nil
            } else {
                error = CurlErrorClassification.error(
                    for: result, handle: handle, detail: transfer.easy?.errorMessage ?? "")
            }
            self.finish(transfer, error: error)
        }
    }

    /// Removes the handle, recycles it, settles the transfer, and drops the retain taken in `start`.
    private func finish(_ transfer: Transfer, error: UpstreamError?) {
        guard let easy = transfer.easy else { return }
        _ = curl_multi_remove_handle(self.multi, easy.raw)
        transfer.easy = nil
        transfer.loop = nil
        let index = transfer.activeIndex
        let last = self.active.removeLast()
        if last !== transfer {
            self.active[index] = last
            last.activeIndex = index
        }
        transfer.activeIndex = -1
        HeaderList.free(transfer.headerList)
        transfer.headerList = nil
        self.recycle(easy)
        if let error {
            self.logger.trace("upstream transfer failed", metadata: ["upstream.error": "\(error)"])
        }
        transfer.complete(error)
        Unmanaged.passUnretained(transfer).release()
    }

    private func recycle(_ easy: EasyHandle) {
        if self.freeHandles.count < self.maxFreeHandles {
            easy.reset()
            self.freeHandles.append(easy)
        } else {
            easy.destroy()
        }
    }

    // MARK: heads

    /// A transfer's head arrived in this turn; it is handed out at the turn's end.
    func holdHead(_ transfer: Transfer) {
        self.heldHeads.append(transfer)
    }

    /// Hands out the heads of transfers still running at the end of a turn (those that completed had theirs handed
    /// out with the whole body by `finish`), and aborts those whose caller no longer waits.
    private func handOutHeldHeads() {
        guard !self.heldHeads.isEmpty else { return }
        swap(&self.heldHeads, &self.heldHeadsBuffer)
        for transfer in self.heldHeadsBuffer where transfer.heldHead != nil && transfer.easy != nil {
            if !transfer.handOutHeldHead() {
                self.abort(transfer, transfer.pendingError ?? UpstreamError(.cancelled, detail: "nobody waits"))
            }
        }
        self.heldHeadsBuffer.removeAll(keepingCapacity: true)
    }

    // MARK: deadlines

    /// A transfer's deadline moved earlier (its head arrived: the idle timeout now applies).
    func noteDeadline(_ deadline: ContinuousClock.Instant?) {
        guard let deadline else { return }
        self.nextDeadline = min(self.nextDeadline ?? deadline, deadline)
    }

    /// Fails transfers whose head or idle deadline passed, and computes the next deadline.
    private func enforceDeadlines(now: ContinuousClock.Instant) {
        var next: ContinuousClock.Instant?
        var index = 0
        while index < self.active.count {
            let transfer = self.active[index]
            let deadline = transfer.currentDeadline
            if let deadline, deadline <= now {
                let what =
                    transfer.headDelivered ? "no body progress within the idle timeout" : "no response head in time"
                self.abort(transfer, UpstreamError(.timedOut, detail: what))
                // `abort` moved the last transfer into `index`: look at it next.
            } else {
                if let deadline { next = min(next ?? deadline, deadline) }
                index += 1
            }
        }
        self.nextDeadline = next
    }

    /// How long the engine may wait: until the next deadline or curl's timer, whichever is first, at most a second.
    private func waitTimeout(now: ContinuousClock.Instant) -> Int32 {
        var timeout: Int32 = 1000
        if let deadline = self.nextDeadline {
            let left = now.duration(to: deadline)
            timeout = left <= .zero ? 0 : Int32(min(1000, left / .milliseconds(1) + 1))
        }
        let curlTimer = ccurl_reactor_timer_ms(self.reactor)
        if curlTimer >= 0 { timeout = min(timeout, curlTimer) }
        return timeout
    }
}
