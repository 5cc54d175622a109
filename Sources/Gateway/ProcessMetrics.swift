import CoreMetrics

#if canImport(Glibc)
import Glibc
#endif

/// The standard Prometheus process metrics, read from `/proc/self` when `/metrics` is scraped.
final class ProcessMetrics: Sendable {
    private let residentMemory: Gauge
    private let virtualMemory: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge
    private let cpuSeconds: Gauge
    private let startTime: Gauge

    init(factory: any MetricsFactory) {
        self.residentMemory = Gauge(label: "process_resident_memory_bytes", factory: factory)
        self.virtualMemory = Gauge(label: "process_virtual_memory_bytes", factory: factory)
        self.openFDs = Gauge(label: "process_open_fds", factory: factory)
        self.maxFDs = Gauge(label: "process_max_fds", factory: factory)
        self.cpuSeconds = Gauge(label: "process_cpu_seconds_total", factory: factory)
        self.startTime = Gauge(label: "process_start_time_seconds", factory: factory)
    }

    /// Reads the current values.
    func update() {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let statm = Self.read("/proc/self/statm")?.split(separator: " "), statm.count >= 2,
            let pages = Int(statm[1]), let virtualPages = Int(statm[0])
        {
            self.residentMemory.record(pages * pageSize)
            self.virtualMemory.record(virtualPages * pageSize)
        }
        if let stat = Self.read("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            // Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22 (1-based, man 5 proc).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 19, let utime = Double(fields[11]), let stime = Double(fields[12]),
                let start = Double(fields[19])
            {
                self.cpuSeconds.record((utime + stime) / ticks)
                if let boot = Self.bootTime() { self.startTime.record(boot + start / ticks) }
            }
        }
        self.openFDs.record(Self.countOpenFDs())
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { self.maxFDs.record(Int(limit.rlim_cur)) }
    }

    private static func bootTime() -> Double? {
        guard let stat = Self.read("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6))
        }
        return nil
    }

    /// The descriptors of this process (`/proc/self/fd`, less the one reading it).
    static func countOpenFDs() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        // Only the name's first byte is read, in place. `entry.pointee.d_name` would copy all 256 bytes of the field,
        // but glibc sizes each record to its name (`d_reclen`, 24 bytes for "12"): a record at the end of its buffer
        // and page made that copy read an unmapped page, and a /metrics scrape crashed the process with SIGSEGV
        // (seen in a parallel test run; Foundation's `Process.run()` had the same bug, swift-corelibs-foundation#5472).
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var count = 0
        while let entry = readdir(directory) {
            let first = UnsafeRawPointer(entry).load(fromByteOffset: nameOffset, as: UInt8.self)
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)  // the directory handle itself
    }

    private static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
