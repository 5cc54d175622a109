import Foundation

/// The kernel's table of IPv4 TCP sockets (`/proc/net/tcp`) and the sockets among a process's descriptors: for the
/// tests that ask which process listens on a port, or how many connections a process holds on one.
public enum TCPSockets {
    /// One line of the table.
    public struct Entry: Sendable {
        /// `0100007F:1F90`: the address and port in hexadecimal, as the kernel writes them.
        public var local: Substring
        public var remote: Substring
        /// State `0A`.
        public var isListening: Bool
        public var inode: Substring
    }

    /// Every line of `/proc/net/tcp`, read to its end: `String(contentsOfFile:)` stops after the first 4 KiB of a
    /// procfs file (about 27 sockets), which hid a restarted redis-server's port in parallel runs. The kernel writes
    /// the table in chunks, so a line can be read twice while other processes' connections change it: count
    /// distinct inodes, never lines.
    public static func table() -> [Entry] {
        guard let data = FileHandle(forReadingAtPath: "/proc/net/tcp")?.readDataToEndOfFile() else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().compactMap { line in
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
            let fields = line.split(separator: " ")
            guard fields.count > 9 else { return nil }
            return Entry(local: fields[1], remote: fields[2], isListening: fields[3] == "0A", inode: fields[9])
        }
    }

    /// The inodes of the sockets among the descriptors of process `pid` (`"self"` for this one).
    public static func inodes(ofProcess pid: String) -> Set<Substring> {
        let directory = "/proc/\(pid)/fd"
        var inodes = Set<Substring>()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + entry),
                target.hasPrefix("socket:[")
            else { continue }
            inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
        }
        return inodes
    }

    /// `:1F90` for port 8080: how the table ends an address on `port`.
    public static func portSuffix(_ port: Int) -> String {
        ":" + String(format: "%04X", port)
    }
}
