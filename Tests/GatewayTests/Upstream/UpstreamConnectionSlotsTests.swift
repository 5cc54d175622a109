import GatewayCore
import GatewayTestSupport
import Testing

@testable import Gateway

/// The slots behind `max_connections`: first come first served, bounded waits, cancellation, HTTP/2's wider bound.
@Suite struct UpstreamConnectionSlotsTests {
    @Test func aWaiterGetsTheNextFreeSlotInOrder() async throws {
        let slots = UpstreamConnectionSlots(limit: 1)
        try await slots.acquire(timeout: .seconds(60))
        let order = OrderLog()
        let first = Task {
            try await slots.acquire(timeout: .seconds(60))
            await order.append(1)
        }
        #expect(await eventually(within: .seconds(30)) { slots.waiting == 1 })
        let second = Task {
            try await slots.acquire(timeout: .seconds(60))
            await order.append(2)
        }
        #expect(await eventually(within: .seconds(30)) { slots.waiting == 2 })
        slots.release()
        try await first.value
        #expect(await order.values == [1])
        slots.release()
        try await second.value
        #expect(await order.values == [1, 2])
        #expect(slots.inUse == 1)
    }

    @Test func aWaitLongerThanTheTimeoutIsAnUpstreamTimeout() async throws {
        let slots = UpstreamConnectionSlots(limit: 1)
        try await slots.acquire(timeout: .seconds(1))
        await #expect(throws: UpstreamError(.timedOut, detail: "no upstream connection free within the timeout")) {
            try await slots.acquire(timeout: .milliseconds(100))
        }
        #expect(slots.waiting == 0)
        slots.release()
        #expect(slots.inUse == 0, "a timed-out waiter took no slot")
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let slots = UpstreamConnectionSlots(limit: 1)
        try await slots.acquire(timeout: .seconds(1))
        let waiter = Task { try await slots.acquire(timeout: .seconds(30)) }
        #expect(await eventually(within: .seconds(30)) { slots.waiting == 1 })
        waiter.cancel()
        await #expect(throws: UpstreamError.self) { try await waiter.value }
        #expect(slots.waiting == 0)
        slots.release()
        #expect(slots.inUse == 0)
    }

    @Test func overHTTP2EachConnectionCarriesManyRequests() async throws {
        let slots = UpstreamConnectionSlots(limit: 2)
        try await slots.acquire(timeout: .seconds(1))
        try await slots.acquire(timeout: .seconds(1))
        let third = Task { try await slots.acquire(timeout: .seconds(30)) }
        #expect(await eventually(within: .seconds(30)) { slots.waiting == 1 })
        slots.observed(isHTTP2: true)
        try await third.value
        for _ in 0..<(2 * UpstreamConnectionSlots.streamsPerConnection - 3) {
            try await slots.acquire(timeout: .seconds(1))
        }
        #expect(slots.inUse == 2 * UpstreamConnectionSlots.streamsPerConnection)
        await #expect(throws: UpstreamError.self) { try await slots.acquire(timeout: .milliseconds(20)) }
    }
}

/// Records completions in order.
private actor OrderLog {
    var values: [Int] = []
    func append(_ value: Int) { self.values.append(value) }
}
