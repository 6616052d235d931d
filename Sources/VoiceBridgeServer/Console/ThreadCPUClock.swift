import Glibc

/// The calling thread's CPU time: what the console costs, apart from everything else the
/// thread runs, for `voicebridge_console_cpu_seconds_total`.
enum ThreadCPUClock {
    static func nanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
}
