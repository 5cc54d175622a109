import Foundation
import GatewayCore
import GatewayTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import RedisRateLimit

@Suite struct RedisRateLimitStoreTests {
    /// 10 per hour: T = 360 s, so the clock moving during a test never brings a token back.
    let slow = RateLimitPolicy(name: "slow", rate: Rate(count: 10, period: .seconds(3600)), burst: 10, key: .clientIP)

    /// The default call timeout is generous: tests that are not about timeouts must not see `storeUnavailable`
    /// because the machine is loaded (with 2 s, calls of a test running in parallel with the suite timed out once).
    /// The default tuning with a connect bound as patient as the tests' call timeout: these tests are about what the
    /// store does, and on two cores loaded by the whole suite in parallel a loopback connect (and `AUTH`) has been seen
    /// to take over the default second. The tests that tune the breaker keep this bound too.
    static let patient = RedisRateLimitStore.Tuning(connectTimeout: .seconds(10))

    func makeStore(
        _ server: RedisTestServer, timeout: Duration = .seconds(10), password: String?? = .none,
        logs: CapturedLogs = CapturedLogs(), tuning: RedisRateLimitStore.Tuning = Self.patient
    ) -> RedisRateLimitStore {
        RedisRateLimitStore(
            configuration: server.configuration(timeout: timeout, password: password),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logs.logger(), tuning: tuning
        )
    }

    static func countAllowed(_ decisions: [RateLimitDecision]) -> Int {
        decisions.filter { if case .allowed = $0 { return true } else { return false } }.count
    }

    static func concurrently(
        _ count: Int, _ body: @escaping @Sendable (Int) async -> RateLimitDecision
    ) async -> [RateLimitDecision] {
        await withTaskGroup(of: RateLimitDecision.self) { group in
            for index in 0..<count { group.addTask { await body(index) } }
            var results: [RateLimitDecision] = []
            for await result in group { results.append(result) }
            return results
        }
    }

    @Test func sequenceFollowsGCRAAndKeysExpireWhenFull() async throws {
        let server = try await RedisTestServer()
        defer { server.kill() }
        let store = self.makeStore(server)
        let bucket = RateLimitBucket(policy: self.slow, key: "10.0.0.1")
        // The bucket's clock starts at the first call, after this: the time taken since is a bound on how much the
        // resets below may have shrunk (a parallel run on two loaded cores once took more than the 5 s allowed here
        // before), and the slack of 1 s covers Redis's clock against this one.
        let start = ContinuousClock.now
        for expected in stride(from: 9, through: 0, by: -1) {
            guard case .allowed(let states) = await store.acquire([bucket]) else {
                Issue.record("request \(10 - expected) should be allowed: \(String(describing: store.lastError))")
                return
            }
            #expect(states.count == 1 && states[0].remaining == expected)
            // Reset: (10 - remaining) × 360 s, less the time the test has taken.
            let reset = states[0].resetAfter
            let full = Duration.seconds(360 * (10 - expected))
            #expect(reset <= full && reset > full - (ContinuousClock.now - start) - .seconds(1))
        }
        guard case .denied(let states, let retryAfter) = await store.acquire([bucket]) else {
            Issue.record("the 11th request should be denied")
            return
        }
        #expect(states[0].remaining == 0)
        #expect(retryAfter <= .seconds(360) && retryAfter > .seconds(359) - (ContinuousClock.now - start))
        // The key lives until the bucket is full: 3600 s.
        let key = RedisRateLimitScript.redisKey(for: bucket)
        guard case .integer(let ttl) = try await server.command(["PTTL", key]) else {
            Issue.record("PTTL did not answer an integer")
            return
        }
        let elapsed = ContinuousClock.now - start
        #expect(ttl <= 3_600_000 && ttl > 3_599_000 - Int(elapsed / .milliseconds(1)))
        #expect(key.hasPrefix("{gw}:rl:4:slow:"))
        await store.shutdown()
    }

    @Test func twoStoresShareOneLimitExactly() async throws {
        let server = try await RedisTestServer()
        defer { server.kill() }
        let first = self.makeStore(server)
        let second = self.makeStore(server)
        let bucket = RateLimitBucket(policy: self.slow, key: "g")
        let decisions = await Self.concurrently(30) { index in
            await (index.isMultiple(of: 2) ? first : second).acquire([bucket])
        }
        #expect(Self.countAllowed(decisions) == 10)
        #expect(!decisions.contains(.storeUnavailable))
        await first.shutdown()
        await second.shutdown()
    }

    @Test func fourHundredConcurrentAcquiresAgainstBurstHundred() async throws {
        let server = try await RedisTestServer()
        defer { server.kill() }
        let store = self.makeStore(server, timeout: .seconds(5))
        let policy = RateLimitPolicy(name: "p", rate: Rate(count: 100, period: .seconds(3600)), key: .global)
        let bucket = RateLimitBucket(policy: policy, key: "g")
        let decisions = await Self.concurrently(400) { _ in await store.acquire([bucket]) }
        #expect(Self.countAllowed(decisions) == 100)
        #expect(!decisions.contains(.storeUnavailable))
        await store.shutdown()
    }

    @Test func deniedByOneBucketConsumesNothingFromTheOther() async throws {
        let server = try await RedisTestServer()
        defer { server.kill() }
        let store = self.makeStore(server)
        let strict = RateLimitPolicy(name: "strict", rate: Rate(count: 1, period: .seconds(3600)), key: .global)
        let client = RateLimitBucket(policy: self.slow, key: "10.0.0.1")
        let global = RateLimitBucket(policy: strict, key: "g")
        guard case .allowed(let first) = await store.acquire([client, global]) else {
            Issue.record("first request should be allowed")
            return
        }
        #expect(first.map(\.remaining) == [9, 0])
        for _ in 0..<3 {
            guard case .denied(let states, let retryAfter) = await store.acquire([client, global]) else {
                Issue.record("the strict bucket is empty")
                return
            }
            #expect(states.map(\.remaining) == [9, 0])
            #expect(retryAfter > .seconds(3590))
        }
        guard case .allowed(let alone) = await store.acquire([client]) else {
            Issue.record("the client bucket still has tokens")
            return
        }
        #expect(alone.map(\.remaining) == [8])
        await store.shutdown()
    }

    @Test func scriptFlushIsHandled() async throws {
        let server = try await RedisTestServer()
        defer { server.kill() }
        let store = self.makeStore(server)
        let bucket = RateLimitBucket(policy: self.slow, key: "10.0.0.9")
        guard case .allowed = await store.acquire([bucket]) else {
            Issue.record("first request should be allowed")
            return
        }
        #expect(try await server.command(["SCRIPT", "FLUSH"]) == .simpleString("OK"))
        guard case .allowed(let states) = await store.acquire([bucket]) else {
            Issue.record("NOSCRIPT should be handled: \(String(describing: store.lastError))")
            return
        }
        #expect(states.first?.remaining == 8)
        await store.shutdown()
    }

    @Test func wrongPasswordIsUnavailableWithAClearError() async throws {
        let server = try await RedisTestServer(password: "right-secret")
        defer { server.kill() }
        let logs = CapturedLogs()
        let wrong = self.makeStore(server, password: "wrong-secret", logs: logs)
        #expect(await wrong.acquire([RateLimitBucket(policy: self.slow, key: "g")]) == .storeUnavailable)
        #expect(wrong.lastError?.code == .authenticationFailed)
        #expect(wrong.lastError?.detail.contains("WRONGPASS") == true)
        let errors = logs.messages(atLeast: .error)
        #expect(errors.contains { $0.contains("credentials") && $0.contains("WRONGPASS") })
        #expect(!errors.contains { $0.contains("wrong-secret") })
        await wrong.shutdown()
        let right = self.makeStore(server)
        guard case .allowed = await right.acquire([RateLimitBucket(policy: self.slow, key: "g")]) else {
            Issue.record("the right password works: \(String(describing: right.lastError))")
            return
        }
        await right.shutdown()
    }

    @Test func deadRedisOpensTheBreakerAndRecoveryIsAutomatic() async throws {
        let server = try await RedisTestServer()
        defer { server.kill() }
        let logs = CapturedLogs()
        let timeout = Duration.milliseconds(200)
        let store = self.makeStore(
            server, timeout: timeout, logs: logs,
            tuning: .init(
                connectTimeout: Self.patient.connectTimeout, reconnectBackoffMax: .milliseconds(400),
                breakerThreshold: 3, breakerCoolDown: .milliseconds(300)
            )
        )
        let bucket = RateLimitBucket(policy: self.slow, key: "10.0.0.1")
        guard try await Self.warmUp(store, bucket) else {
            Issue.record("Redis is up")
            return
        }
        server.kill()
        let clock = ContinuousClock()
        // Each failing call is an answer (a refused connect fails fast; the timeout's own bound is proven against a
        // frozen server in `hungRedisTimesOutAndRecovers`)...
        for _ in 0..<3 {
            #expect(await store.acquire([bucket]) == .storeUnavailable)
        }
        // ...and after the threshold the breaker answers without asking Redis: counted, not timed. A call that
        // asks Redis and fails logs "call failed" (or "degraded" when it reopens the breaker); within the 100 calls
        // only a probe per elapsed cool-down may ask.
        #expect(store.isDegraded)
        let asked = { logs.messages(atLeast: .debug).count { $0.contains("call failed") || $0.contains("degraded") } }
        let askedBefore = asked()
        let started = clock.now
        for _ in 0..<100 {
            #expect(await store.acquire([bucket]) == .storeUnavailable)
        }
        let coolDowns = Int(started.duration(to: clock.now) / .milliseconds(300))
        #expect(asked() - askedBefore <= 1 + coolDowns, "100 calls asked Redis \(asked() - askedBefore) times")
        #expect(logs.messages(atLeast: .error).contains { $0.contains("degraded") })

        try await server.start()
        let recovered = await eventually(within: .seconds(15), pollingEvery: .milliseconds(50)) {
            if case .allowed = await store.acquire([bucket]) { return true }
            return false
        }
        #expect(recovered)
        #expect(!store.isDegraded)
        #expect(logs.messages(atLeast: .notice).contains { $0.contains("recovered") })
        await store.shutdown()
    }
}

extension RedisRateLimitStoreTests {
    /// Polls until the store answers `.allowed`, with a deadline. The first calls also open the connections, which
    /// can take longer than a short call timeout on a loaded machine.
    static func warmUp(_ store: RedisRateLimitStore, _ bucket: RateLimitBucket) async throws -> Bool {
        await eventually(within: .seconds(30), pollingEvery: .milliseconds(50)) {
            if case .allowed = await store.acquire([bucket]) { return true }
            return false
        }
    }

    /// A frozen Redis keeps its sockets open and answers nothing: calls time out, the stalled connections are
    /// replaced, the breaker opens, and when Redis thaws the late replies are matched in order and discarded.
    @Test func hungRedisTimesOutAndRecovers() async throws {
        let server = try await RedisTestServer()
        defer {
            server.signal(SIGCONT)
            server.kill()
        }
        // Redis caches the rate-limit script for every connection: loaded first by a patient store, so the store
        // under test warms up with one round trip in its short timeout, not three (NOSCRIPT, SCRIPT LOAD, EVALSHA),
        // which two cores loaded by the whole suite could not fit in 150 ms for 30 s (seen twice in parallel runs).
        let loader = self.makeStore(server)
        guard try await Self.warmUp(loader, RateLimitBucket(policy: self.slow, key: "loader")) else {
            Issue.record("Redis is up")
            return
        }
        await loader.shutdown()
        let timeout = Duration.milliseconds(300)
        let store = self.makeStore(
            server, timeout: timeout,
            tuning: .init(
                connectTimeout: Self.patient.connectTimeout, reconnectBackoffMax: .milliseconds(200),
                breakerThreshold: 3, breakerCoolDown: .milliseconds(200)
            )
        )
        let bucket = RateLimitBucket(policy: self.slow, key: "10.0.0.1")
        guard try await Self.warmUp(store, bucket) else {
            Issue.record("Redis is up")
            return
        }
        server.signal(SIGSTOP)
        let clock = ContinuousClock()
        for _ in 0..<3 {
            let started = clock.now
            #expect(await store.acquire([bucket]) == .storeUnavailable)
            // A call that ignored its timeout would wait for the frozen server until the thaw below, so it would not
            // come back at all; the bound only catches a late return. It is generous because a parallel run on two
            // loaded cores has delayed a timed-out call's resumption by 6.5 s.
            #expect(started.duration(to: clock.now) < timeout + .seconds(10))
        }
        #expect(store.lastError?.code == .timedOut)
        #expect(store.isDegraded)
        server.signal(SIGCONT)
        // Recovered once a call gets Redis's own decision again.
        var decision: RateLimitDecision = .storeUnavailable
        _ = await eventually(within: .seconds(30), pollingEvery: .milliseconds(50)) {
            decision = await store.acquire([bucket])
            return decision != .storeUnavailable
        }
        switch decision {
        case .allowed(let states):
            // 10 tokens, one taken before the freeze and one now; the timed-out calls may or may not have been
            // executed by Redis when it thawed, but the reply read is this call's own.
            #expect(states.first.map { (0...8).contains($0.remaining) } == true, "\(states)")
        case .denied(let states, _):
            // Also Redis's own answer: on a loaded machine, probes that timed out here after the thaw were still
            // executed by Redis and can spend every token (the likely end of two parallel runs that waited in vain
            // for an `.allowed`).
            #expect(states.first?.remaining == 0, "\(states)")
        case .storeUnavailable:
            Issue.record("the store did not recover: \(String(describing: store.lastError))")
        }
        #expect(!store.isDegraded)
        await store.shutdown()
    }
}

extension RedisRateLimitStoreTests {
    /// `redis://alice:pw@host:port/3`: `AUTH alice pw` (an ACL user), then `SELECT 3`; keys land in database 3.
    @Test func usernameAndDatabaseAreUsed() async throws {
        let server = try await RedisTestServer(extraArguments: ["--user", "alice", "on", ">alice-pw", "~*", "+@all"])
        defer { server.kill() }
        var configuration = server.configuration()
        configuration.username = "alice"
        configuration.password = "alice-pw"
        configuration.database = 3
        let store = RedisRateLimitStore(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: CapturedLogs().logger(), tuning: Self.patient
        )
        let bucket = RateLimitBucket(policy: self.slow, key: "hacme")
        guard case .allowed = await store.acquire([bucket]) else {
            Issue.record("alice may use database 3: \(String(describing: store.lastError))")
            return
        }
        let key = RedisRateLimitScript.redisKey(for: bucket)
        #expect(try await server.command(["EXISTS", key], database: 3) == .integer(1))
        #expect(try await server.command(["EXISTS", key], database: 0) == .integer(0))
        await store.shutdown()
        configuration.password = "not-alice-pw"
        let wrong = RedisRateLimitStore(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: CapturedLogs().logger(), tuning: Self.patient
        )
        #expect(await wrong.acquire([bucket]) == .storeUnavailable)
        #expect(wrong.lastError?.code == .authenticationFailed)
        await wrong.shutdown()
    }
}

@Suite struct RESPDecoderTests {
    func parse(_ text: String) throws -> RESPValue? {
        var buffer = ByteBuffer(string: text)
        return try RESPDecoder.parse(&buffer, depth: 0)
    }

    @Test func readsEveryReplyType() throws {
        #expect(try self.parse("+OK\r\n") == .simpleString("OK"))
        #expect(try self.parse("-NOSCRIPT No matching script\r\n")?.errorPrefix == "NOSCRIPT")
        #expect(try self.parse(":-42\r\n") == .integer(-42))
        #expect(try self.parse("$5\r\nhello\r\n") == .bulkString("hello"))
        #expect(try self.parse("$-1\r\n") == .null)
        #expect(
            try self.parse("*3\r\n:1\r\n:0\r\n$1\r\nx\r\n") == .array([.integer(1), .integer(0), .bulkString("x")]))
    }

    @Test func incompleteRepliesWaitForMoreBytes() throws {
        for text in ["+OK", "$5\r\nhel", "*2\r\n:1\r\n", ":1\r"] {
            #expect(try self.parse(text) == nil)
        }
        #expect(throws: RedisClientError.self) { try self.parse("?what\r\n") }
    }

    @Test func encodesCommandsAsBulkStrings() {
        var buffer = ByteBuffer()
        RESPCommand(["GET", "{gw}:k"]).encode(into: &buffer)
        #expect(String(buffer: buffer) == "*2\r\n$3\r\nGET\r\n$6\r\n{gw}:k\r\n")
    }
}
