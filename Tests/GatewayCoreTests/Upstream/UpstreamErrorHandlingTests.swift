import GatewayCore
import Testing

/// One row per failure code (issue 12: `cancelled` and `protocol_error` were counted as `reset`), and every
/// decision reads its row.
@Suite struct UpstreamErrorHandlingTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var code: UpstreamError.Code
        var retry: RetryCondition?
        var breaker: CircuitBreaker.Outcome
        var label: String
        var canonical: ErrorCode
        var testDescription: String { self.code.description }
    }

    static let table: [Row] = [
        Row(
            code: .connectFailed, retry: .connectFailure, breaker: .failure, label: "connect_failure",
            canonical: .upstreamUnavailable),
        Row(
            code: .dnsFailed, retry: .connectFailure, breaker: .failure, label: "connect_failure",
            canonical: .upstreamUnavailable),
        Row(code: .tlsFailed, retry: nil, breaker: .failure, label: "tls_failure", canonical: .upstreamUnavailable),
        Row(code: .timedOut, retry: .timeout, breaker: .failure, label: "timeout", canonical: .upstreamTimeout),
        Row(code: .connectionReset, retry: .reset, breaker: .failure, label: "reset", canonical: .upstreamUnavailable),
        Row(code: .gotNothing, retry: .reset, breaker: .failure, label: "reset", canonical: .upstreamUnavailable),
        Row(
            code: .protocolError, retry: nil, breaker: .failure, label: "protocol_error",
            canonical: .upstreamUnavailable),
        Row(code: .cancelled, retry: nil, breaker: .neutral, label: "cancelled", canonical: .internalError),
        Row(code: .overloaded, retry: nil, breaker: .neutral, label: "overloaded", canonical: .upstreamUnavailable),
        Row(
            code: .proxyRefused, retry: nil, breaker: .failure, label: "proxy_refused",
            canonical: .upstreamUnavailable),
    ]

    @Test func everyCodeHasARow() {
        #expect(Self.table.map(\.code) == UpstreamError.Code.all)
    }

    @Test(arguments: Self.table)
    func decisionsFollowTheRow(_ row: Row) {
        let handling = row.code.handling
        #expect(handling.retryCondition == row.retry)
        #expect(handling.breakerOutcome == row.breaker)
        #expect(handling.metricLabel == row.label)
        #expect(handling.canonicalCode == row.canonical)
        #expect(RetryPolicy.condition(of: .transportFailure(row.code)) == row.retry)
        #expect(CircuitBreaker.Outcome(errorCode: row.code) == row.breaker)
        #expect(UpstreamError(row.code).canonicalCode == row.canonical)
    }
}
