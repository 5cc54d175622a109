import NIOCore

/// Collects a request body as its parts arrive, bounded by `max_body_bytes`.
///
/// A pure function with checked paths (no force unwrap on input), compiled into the request-head fuzz target too.
enum RequestBody {
    /// Appends `chunk` to `body` (making it on the first chunk) unless the total would exceed `limit`.
    /// - Returns: false, leaving `body` as it was, when the body would be larger than `limit` (answer 413).
    static func append(_ chunk: inout ByteBuffer, to body: inout ByteBuffer?, limit: Int) -> Bool {
        let (total, overflow) = (body?.readableBytes ?? 0).addingReportingOverflow(chunk.readableBytes)
        guard !overflow, total <= limit else { return false }
        body.setOrWriteBuffer(&chunk)
        return true
    }
}
