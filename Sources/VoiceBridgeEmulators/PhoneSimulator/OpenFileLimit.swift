#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Each simulated call holds a socket, so a load run needs more descriptors than the usual
/// soft limit of 1024.
public enum OpenFileLimit {
    /// Raises the soft limit on open files to at least `needed` (capped by the hard limit) and
    /// returns the limit in force afterwards.
    @discardableResult
    public static func raise(toAtLeast needed: Int) -> Int {
        var limits = rlimit()
        guard getrlimit(resourceKind, &limits) == 0 else { return -1 }
        let wanted = rlim_t(max(needed, 0))
        if limits.rlim_cur < wanted {
            limits.rlim_cur = min(wanted, limits.rlim_max)
            _ = setrlimit(resourceKind, &limits)
            _ = getrlimit(resourceKind, &limits)
        }
        return Int(clamping: limits.rlim_cur)
    }

    #if canImport(Glibc)
    private static var resourceKind: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
    #else
    private static var resourceKind: Int32 { RLIMIT_NOFILE }
    #endif
}
