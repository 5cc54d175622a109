import GatewayCore
import NIOHTTP1

extension TraceContext {
    /// The trace a client request belongs to: its `traceparent` when valid, else a new trace sampled per
    /// `server.tracing.sample_ratio` (not sampled when tracing is not configured: nothing records it).
    static func of(_ headers: HTTPHeaders, tracing: TracingConfiguration?) -> TraceContext {
        var random = SystemRandomNumberGenerator()
        return TraceContext.incoming(
            traceparents: headers["traceparent"], sampleRatio: tracing?.sampleRatio ?? 0, using: &random)
    }
}
