@testable import GatewayHTTPServer
import NIOCore
import Testing

@Suite("Connection deadlines state machine")
struct ConnectionTimeoutsTests {
    let idle = TimeAmount.seconds(60)
    let request = TimeAmount.seconds(10)

    @Test func headDeadlineRunsFromTheFirstByteAndIsNotResetByMoreBytes() {
        var machine = ConnectionTimeouts(idleTimeout: self.idle, requestTimeout: self.request)
        #expect(machine.start() == .arm(self.idle, .idle))
        #expect(machine.handle(.bytesReceived) == .arm(self.request, .readingHead))
        #expect(machine.handle(.bytesReceived) == .none)
        #expect(machine.handle(.bytesReceived) == .none)
        #expect(machine.handle(.deadlineReached(.readingHead)) == .failRequestTimeout)
    }

    @Test func bodyDeadlineMovesWithProgressAndStopsWhenTheRequestEnds() {
        var machine = ConnectionTimeouts(idleTimeout: self.idle, requestTimeout: self.request)
        _ = machine.handle(.bytesReceived)
        #expect(machine.handle(.headReceived) == .arm(self.request, .readingBody))
        #expect(machine.handle(.bytesReceived) == .arm(self.request, .readingBody))
        #expect(machine.handle(.requestEnded) == .cancelTimer)
        #expect(machine.handle(.deadlineReached(.readingBody)) == .none)
        #expect(machine.handle(.responseEnded) == .arm(self.idle, .idle))
        #expect(machine.handle(.deadlineReached(.idle)) == .closeIdleConnection)
    }

    @Test func staleTimerOfAnEarlierPhaseDoesNothing() {
        var machine = ConnectionTimeouts(idleTimeout: self.idle, requestTimeout: self.request)
        _ = machine.handle(.bytesReceived)
        #expect(machine.handle(.deadlineReached(.idle)) == .none)
    }

    @Test func processingHasNoDeadline() {
        var machine = ConnectionTimeouts(idleTimeout: self.idle, requestTimeout: self.request)
        _ = machine.handle(.bytesReceived)
        _ = machine.handle(.headReceived)
        _ = machine.handle(.requestEnded)
        #expect(machine.phase == .processing)
        #expect(machine.handle(.bytesReceived) == .none)
        #expect(machine.handle(.deadlineReached(.processing)) == .none)
    }
}
