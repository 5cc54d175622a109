import GatewayTestSupport
import Testing

@testable import Gateway

#if canImport(Glibc)
import Glibc
#endif

/// The `process_*` metrics read from `/proc`.
@Suite struct ProcessMetricsTests {
    /// Counts exactly the descriptors opened and closed, across many `/proc/self/fd` buffers of records. Run alone in
    /// a child process (``IsolatedTest``): the count is process-wide, and tests beside it open and close sockets.
    @Test func openDescriptorsAreCountedExactly() async throws {
        let outcome = try await IsolatedTest.run("ProcessMetricsTests/openDescriptorsAreCountedExactly") {
            // Room for 2000 more descriptors: the soft limit may be 1024 where the hard one allows more.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            limit.rlim_cur = max(limit.rlim_cur, min(limit.rlim_max, 4096))
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            let before = ProcessMetrics.countOpenFDs()
            var descriptors: [Int32] = []
            // 1000 pipes, 2000 records: dozens of readdir buffers, so records end buffers at many name lengths.
            for _ in 0..<1000 {
                var ends: [Int32] = [0, 0]
                guard pipe(&ends) == 0 else { break }
                descriptors += ends
            }
            #expect(descriptors.count == 2000)
            #expect(ProcessMetrics.countOpenFDs() == before + descriptors.count)
            for descriptor in descriptors { close(descriptor) }
            #expect(ProcessMetrics.countOpenFDs() == before)
        }
        #expect(outcome.passed, "\(outcome.report)")
    }
}
