import NIOCore
import NIOEmbedded
import Testing

@testable import GatewayHTTPServer

/// The listener's count of open connections, which a graceful stop waits on: every way a channel ends must take its
/// entry away, or the stop waits for ever.
@Suite struct ConnectionRegistryTests {
    @Test func aChannelThatClosesBeforeItWasEverActiveIsRemoved() async throws {
        let registry = ConnectionRegistry()
        // Never connected: no handler of it would see `channelInactive`.
        let channel = EmbeddedChannel()
        #expect(registry.register(channel, limit: 10) != nil)
        #expect(registry.count == 1)
        try channel.close().wait()
        channel.embeddedEventLoop.run()  // the close future's callbacks
        #expect(registry.count == 0)
        await registry.waitUntilEmpty()
    }

    @Test func anActiveChannelIsRemovedWhenItCloses() async throws {
        let registry = ConnectionRegistry()
        let channel = EmbeddedChannel()
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        #expect(registry.register(channel, limit: 10) != nil)
        try channel.close().wait()
        channel.embeddedEventLoop.run()
        #expect(registry.count == 0)
    }

    @Test func aChannelRegisteredAfterCloseAllIsClosedAtOnce() async throws {
        let registry = ConnectionRegistry()
        let first = EmbeddedChannel()
        try first.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        #expect(registry.register(first, limit: 10) != nil)
        registry.closeAll()
        first.embeddedEventLoop.run()
        #expect(!first.isActive)
        // Accepted just before the listener closed, set up just after closeAll().
        let late = EmbeddedChannel()
        try late.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        #expect(registry.register(late, limit: 10) != nil)
        late.embeddedEventLoop.run()
        #expect(!late.isActive)
        #expect(registry.count == 0)
        await registry.waitUntilEmpty()
    }

    @Test func overTheLimitIsRefusedAndNotCounted() async throws {
        let registry = ConnectionRegistry()
        let first = EmbeddedChannel()
        let second = EmbeddedChannel()
        #expect(registry.register(first, limit: 1) != nil)
        #expect(registry.register(second, limit: 1) == nil)
        #expect(registry.count == 1)
        try first.close().wait()
        first.embeddedEventLoop.run()
        #expect(registry.count == 0)
    }
}
