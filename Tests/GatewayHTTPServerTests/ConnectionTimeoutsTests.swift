import NIOCore
import Testing

@testable import GatewayHTTPServer

@Suite("Connection deadlines state machine")
struct ConnectionTimeoutsTests {
    let idle = TimeAmount.seconds(60)
    let request = TimeAmount.seconds(10)
    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    func at(_ seconds: Double) -> NIODeadline { self.t0 + .nanoseconds(Int64(seconds * 1e9)) }

    func machine(bodyTimeout: TimeAmount = .seconds(30), rate: Int = 1024) -> ConnectionTimeouts {
        ConnectionTimeouts(
            idleTimeout: self.idle, requestTimeout: self.request, bodyTimeout: bodyTimeout, minBodyBytesPerSecond: rate)
    }

    @Test func headDeadlineRunsFromTheFirstByteAndIsNotResetByMoreBytes() {
        var machine = self.machine()
        #expect(machine.start() == .arm(self.idle, .idle))
        #expect(machine.handle(.bytesReceived(count: 3, now: self.at(0))) == .arm(self.request, .readingHead))
        #expect(machine.handle(.bytesReceived(count: 3, now: self.at(1))) == .none)
        #expect(machine.handle(.bytesReceived(count: 3, now: self.at(2))) == .none)
        #expect(machine.handle(.deadlineReached(.readingHead)) == .failRequestTimeout)
    }

    @Test func bodyDeadlineMovesWithProgressAndStopsWhenTheRequestEnds() {
        var machine = self.machine()
        _ = machine.handle(.bytesReceived(count: 10, now: self.at(0)))
        #expect(machine.handle(.headReceived(now: self.at(0))) == .arm(self.request, .readingBody))
        #expect(machine.handle(.bytesReceived(count: 10, now: self.at(1))) == .arm(self.request, .readingBody))
        #expect(machine.handle(.requestEnded) == .cancelTimer)
        #expect(machine.handle(.deadlineReached(.readingBody)) == .none)
        #expect(machine.handle(.responseEnded) == .arm(self.idle, .idle))
        #expect(machine.handle(.deadlineReached(.idle)) == .closeIdleConnection)
    }

    @Test func aTrickledBodyMeetsItsWholeBodyDeadline() {
        // 2 s to send the body, plus a second per KiB: ten bytes every half second never stall, yet end.
        var machine = self.machine(bodyTimeout: .seconds(2))
        _ = machine.handle(.bytesReceived(count: 40, now: self.at(0)))
        #expect(machine.handle(.headReceived(now: self.at(0))) == .arm(.seconds(2), .readingBody))
        #expect(
            machine.handle(.bytesReceived(count: 10, now: self.at(0.5))) == .arm(self.remaining(10, 0.5), .readingBody))
        #expect(
            machine.handle(.bytesReceived(count: 10, now: self.at(1.9))) == .arm(self.remaining(20, 1.9), .readingBody))
        #expect(machine.handle(.deadlineReached(.readingBody)) == .failRequestTimeout)
        // A read after the deadline passed (the timer lost the race) fails at once.
        var late = self.machine(bodyTimeout: .seconds(2))
        _ = late.handle(.bytesReceived(count: 40, now: self.at(0)))
        _ = late.handle(.headReceived(now: self.at(0)))
        #expect(late.handle(.bytesReceived(count: 10, now: self.at(2.5))) == .failRequestTimeout)
    }

    /// What is left of a 2 s body deadline at `now` after `bytes` bytes at 1 KiB/s.
    func remaining(_ bytes: Int, _ now: Double) -> TimeAmount {
        .nanoseconds(Int64(2e9 + Double(bytes) / 1024 * 1e9) - Int64(now * 1e9))
    }

    @Test func aBodyAtTheMinimumRateEarnsItsTime() {
        var machine = self.machine(bodyTimeout: .seconds(1))
        _ = machine.handle(.bytesReceived(count: 40, now: self.at(0)))
        _ = machine.handle(.headReceived(now: self.at(0)))
        // 1 KiB every second for a minute: the deadline stays ahead, and the stall timer is the nearer one.
        for second in 1...60 {
            #expect(
                machine.handle(.bytesReceived(count: 1024, now: self.at(Double(second))))
                    == .arm(.seconds(1), .readingBody))
        }
        #expect(machine.bodyDeadline == self.at(61))
    }

    @Test func staleTimerOfAnEarlierPhaseDoesNothing() {
        var machine = self.machine()
        _ = machine.handle(.bytesReceived(count: 1, now: self.at(0)))
        #expect(machine.handle(.deadlineReached(.idle)) == .none)
    }

    @Test func processingHasNoDeadline() {
        var machine = self.machine()
        _ = machine.handle(.bytesReceived(count: 1, now: self.at(0)))
        _ = machine.handle(.headReceived(now: self.at(0)))
        _ = machine.handle(.requestEnded)
        #expect(machine.phase == .processing)
        #expect(machine.handle(.bytesReceived(count: 1, now: self.at(1))) == .none)
        #expect(machine.handle(.deadlineReached(.processing)) == .none)
    }
}
