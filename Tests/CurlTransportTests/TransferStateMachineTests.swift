import GatewayCore
import GatewayTestSupport
import Testing

@testable import CurlTransport

/// The transfer's (state, event) → action table, without curl or NIO: continuations and sources are plain values.
@Suite struct TransferStateMachineTests {
    typealias Machine = TransferStateMachine<String, Int>

    private func streaming() -> Machine {
        var machine = Machine()
        guard case .enqueueStart = machine.start("c") else {
            Issue.record("start")
            return machine
        }
        guard case .succeedHead("c") = machine.headReceived(source: 7) else {
            Issue.record("head")
            return machine
        }
        return machine
    }

    @Test func startQueuesTheTransferAndTheHeadResumesExecute() {
        var machine = Machine()
        guard case .enqueueStart = machine.start("c") else {
            Issue.record("expected enqueueStart")
            return
        }
        #expect(machine.engineWillStart())
        guard case .succeedHead(let continuation) = machine.headReceived(source: 1) else {
            Issue.record("expected succeedHead")
            return
        }
        #expect(continuation == "c")
        #expect(machine.flow == .running)
    }

    @Test func aHeadWithItsCompleteBodyResumesExecuteAndFinishes() {
        var machine = Machine()
        _ = machine.start("c")
        guard case .succeedHead("c") = machine.headReceivedWithCompleteBody() else {
            Issue.record("expected succeedHead")
            return
        }
        #expect(machine.isFinished)
        // The engine then removes the handle: nothing is left to settle.
        guard case .none = machine.transferCompleted(nil) else {
            Issue.record("expected none")
            return
        }
    }

    @Test func aCompleteBodyNobodyWaitsForIsDiscarded() {
        var machine = Machine()
        _ = machine.start("c")
        guard case .failHeadAndCancelTransfer = machine.taskCancelled() else {
            Issue.record("expected failHeadAndCancelTransfer")
            return
        }
        guard case .discard = machine.headReceivedWithCompleteBody() else {
            Issue.record("expected discard")
            return
        }
    }

    @Test func cancellationBeforeStartFailsAtStartWithoutQueueing() {
        var machine = Machine()
        guard case .none = machine.taskCancelled() else {
            Issue.record("expected none")
            return
        }
        guard case .failHead("c", let error) = machine.start("c") else {
            Issue.record("expected failHead")
            return
        }
        #expect(error.code == .cancelled)
        #expect(machine.isFinished)
    }

    @Test func cancellationWhileAwaitingTheHeadFailsAndCancelsAndTheEngineSkipsTheStart() {
        var machine = Machine()
        _ = machine.start("c")
        guard case .failHeadAndCancelTransfer("c", let error) = machine.taskCancelled() else {
            Issue.record("expected failHeadAndCancelTransfer")
            return
        }
        #expect(error.code == .cancelled)
        #expect(machine.engineWillStart() == false)
        guard case .discard = machine.headReceived(source: 1) else {
            Issue.record("expected discard")
            return
        }
        guard case .none = machine.transferCompleted(UpstreamError(.cancelled)) else {
            Issue.record("completion after cancel must do nothing")
            return
        }
    }

    @Test func cancellationAfterTheHeadIsTheConsumersBusiness() {
        var machine = self.streaming()
        guard case .none = machine.taskCancelled() else {
            Issue.record("expected none")
            return
        }
        #expect(machine.flow == .running)
    }

    @Test func stopProducingPausesTheNextChunkAndProduceMoreResumes() {
        var machine = self.streaming()
        guard case .yield(7) = machine.bodyReceived() else {
            Issue.record("expected yield")
            return
        }
        #expect(machine.didYield(.stopProducing) == .proceed)
        #expect(machine.flow == .pausePending)
        guard case .pause = machine.bodyReceived() else {
            Issue.record("expected pause")
            return
        }
        #expect(machine.flow == .paused)
        #expect(machine.produceMore() == .enqueueResume)
        #expect(machine.flow == .running)
        guard case .yield = machine.bodyReceived() else {
            Issue.record("expected yield after resume")
            return
        }
    }

    @Test func produceMoreBeforeThePausedChunkNeedsNoResume() {
        var machine = self.streaming()
        _ = machine.bodyReceived()
        _ = machine.didYield(.stopProducing)
        #expect(machine.produceMore() == .none)
        #expect(machine.flow == .running)
        guard case .yield = machine.bodyReceived() else {
            Issue.record("expected yield")
            return
        }
    }

    @Test func produceMoreOvertakingTheYieldResultDoesNotDeadlock() {
        // The consumer drained and called produceMore between `yield` returning stopProducing and the engine
        // recording it: the transfer must keep running, or nothing would ever resume it.
        var machine = self.streaming()
        _ = machine.bodyReceived()
        #expect(machine.produceMore() == .none)
        #expect(machine.didYield(.stopProducing) == .proceed)
        #expect(machine.flow == .running)
    }

    @Test func aDroppedYieldOrATerminatedConsumerAbortsTheTransfer() {
        var machine = self.streaming()
        _ = machine.bodyReceived()
        #expect(machine.didYield(.dropped) == .abort)

        var other = self.streaming()
        #expect(other.consumerTerminated() == .cancelTransfer)
        #expect(other.isFinished)
        guard case .abort = other.bodyReceived() else {
            Issue.record("expected abort")
            return
        }
        #expect(other.consumerTerminated() == .none)
    }

    @Test func completionFinishesTheBodyOrFailsTheHead() {
        var machine = self.streaming()
        guard case .finishBody(7, nil) = machine.transferCompleted(nil) else {
            Issue.record("expected finish")
            return
        }
        #expect(machine.isFinished)

        var failing = self.streaming()
        guard case .finishBody(7, let error?) = failing.transferCompleted(UpstreamError(.connectionReset)) else {
            Issue.record("expected finish with error")
            return
        }
        #expect(error.code == .connectionReset)

        var headless = Machine()
        _ = headless.start("c")
        guard case .failHead("c", let headError) = headless.transferCompleted(nil) else {
            Issue.record("expected failHead")
            return
        }
        #expect(headError.code == .protocolError)
    }

    @Test func bodyBeforeAHeadIsRefusedNotACrash() {
        var machine = Machine()
        _ = machine.start("c")
        guard case .abort = machine.bodyReceived() else {
            Issue.record("expected abort")
            return
        }
    }

    /// Random interleavings of engine chunks and consumer demand: demand always leaves the transfer running, and
    /// a resume command is asked for exactly when curl was paused (never lost, never spurious).
    @Test func randomInterleavingsNeverStrandAPausedTransfer() {
        var generator = SplitMix64(seed: 0x5EED)
        for _ in 0..<2_000 {
            var machine = self.streaming()
            for _ in 0..<50 {
                if generator.next() % 2 == 0 {
                    let before = machine.flow
                    switch machine.bodyReceived() {
                    case .yield:
                        #expect(before == .running)
                        let outcome: Machine.YieldOutcome = generator.next() % 2 == 0 ? .stopProducing : .produceMore
                        #expect(machine.didYield(outcome) == .proceed)
                    case .pause:
                        #expect(before != .running)
                        #expect(machine.flow == .paused)
                    case .abort:
                        Issue.record("a streaming transfer must not abort")
                    }
                } else {
                    let before = machine.flow
                    let action = machine.produceMore()
                    #expect(machine.flow == .running)
                    #expect((action == .enqueueResume) == (before == .paused))
                }
            }
        }
    }
}
