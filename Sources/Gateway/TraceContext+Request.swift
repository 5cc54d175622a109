import GatewayCore
import NIOHTTP1

extension TraceContext {
    /// The trace a client request belongs to: its `traceparent` when valid, else a new trace sampled per
    /// `server.tracing.sample_ratio` (not sampled when tracing is not configured: nothing records it).
    ///
    /// Trace ids must be unique, not secret (W3C Trace Context section 3.2.2.3 only asks for randomness to keep them
    /// unique): they come from ``RequestIDRandom``, one atomic increment instead of a `getrandom` call per 8 bytes.
    static func of(_ headers: HTTPHeaders, tracing: TracingConfiguration?) -> TraceContext {
        var random = RequestIDRandom()
        return TraceContext.incoming(
            traceparents: headers["traceparent"], sampleRatio: tracing?.sampleRatio ?? 0, using: &random)
    }
}
