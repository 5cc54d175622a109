import Foundation

/// The CPU time of one of this process's threads, found by its name (`/proc/self/task/*/comm`).
public enum ThreadCPU {
    /// User plus system time of the first thread named `name`, in clock ticks (1/100 s on Linux); nil when no thread
    /// has that name or `/proc` cannot be read.
    public static func ticks(ofThreadNamed name: String) -> Int? {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return nil }
        for task in tasks {
            let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)
            guard comm?.trimmingCharacters(in: .whitespacesAndNewlines) == name,
                let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                let nameEnd = stat.lastIndex(of: ")")
            else { continue }
            // After "pid (comm)": state is field 3, so utime (field 14) and stime (15) are the 12th and 13th here.
            let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
            guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return nil }
            return user + system
        }
        return nil
    }
}
