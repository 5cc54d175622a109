#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// This process's memory as the kernel counts it, for the tests that prove a body is streamed rather than buffered.
///
/// The figure is process-wide: every other test running in the same process moves it. A test that compares two
/// readings therefore runs its measured part alone, in a child process of its own (``IsolatedTest``).
public enum ProcessMemory {
    /// The resident set size of this process, from `/proc/self/statm` (its second field, in pages); 0 when that
    /// cannot be read.
    public static func residentBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return 0 }
        let fields = buffer[0..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
