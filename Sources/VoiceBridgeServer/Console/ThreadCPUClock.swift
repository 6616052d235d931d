import Glibc

/// The calling thread's CPU time: what the console costs, apart from everything else the
/// thread runs, for `voicebridge_console_cpu_seconds_total`.
enum ThreadCPUClock {
    static func nanoseconds() -> Int64 {
        // `timespec` is two C longs (seconds, nanoseconds). Its fields are read as such: by name
        // they resolve to whichever module re-exports Glibc first, which depends on build order.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2) { words in
            words.initialize(repeating: 0)
            _ = words.baseAddress!.withMemoryRebound(to: timespec.self, capacity: 1) { clock_gettime(CLOCK_THREAD_CPUTIME_ID, $0) }
            return Int64(words[0]) * 1_000_000_000 + Int64(words[1])
        }
    }
}
