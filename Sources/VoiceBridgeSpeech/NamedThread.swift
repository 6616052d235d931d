import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A long-lived thread of our own (libcurl's, espeak's, the listener's accept loop), named for
/// top, gdb and the benchmark's per-thread CPU table.
///
/// Foundation on Linux doesn't pass `Thread.name` on to the OS and Swift can't see
/// `pthread_setname_np`, so the thread names itself through /proc (Linux keeps 15 bytes).
public enum NamedThread {
    public static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            if let comm = fopen("/proc/thread-self/comm", "w") {
                fputs(String(name.utf8.prefix(15)) ?? name, comm)
                fclose(comm)
            }
            body()
        }
        thread.name = name
        thread.start()
    }
}
