import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Keeps the sockets of the other tests out of an exit test's child process.
///
/// Swift Testing starts an exit test's child with every descriptor of the test process open in it, and SwiftNIO and
/// libcurl open their sockets without close-on-exec. A socket another test closes meanwhile then sends no FIN until
/// the child exits, seconds later (the intermittent of issue 12, see the README's security section): a peer waiting
/// for the close waits that long. So the parent marks every socket close-on-exec just before the exit test starts its
/// child, and the child closes whatever socket was opened between the two before it does anything else.
public enum InheritedSockets {
    /// Marks every socket of this process close-on-exec; call right before `#expect(processExitsWith:)`.
    public static func markCloseOnExec() {
        for descriptor in self.sockets() {
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 { _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Closes every socket this process holds; call first in an exit test's body, where none is its own yet (Swift
    /// Testing talks to its child over pipes).
    public static func closeAll() {
        for descriptor in self.sockets() {
            close(descriptor)
        }
    }

    /// The socket descriptors above standard error, from `/proc/self/fd`.
    private static func sockets() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap(Int32.init).filter { descriptor in
            var status = stat()
            return descriptor > 2 && fstat(descriptor, &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK
        }
    }
}
