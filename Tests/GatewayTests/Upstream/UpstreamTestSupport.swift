import GatewayTestSupport
import NIOConcurrencyHelpers

/// A stub behaviour: the first request gets a 503, every later one a 200 with the body `ok` (a retry that succeeds).
func firstCallFails() -> @Sendable (StubUpstream.Request) -> StubUpstream.Behaviour {
    let calls = NIOLockedValueBox(0)
    return { _ in
        let first = calls.withLockedValue { count -> Bool in
            count += 1
            return count == 1
        }
        let response =
            first
            ? "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
            : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        return .respond(Array(response.utf8))
    }
}
