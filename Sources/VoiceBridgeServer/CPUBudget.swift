#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore

/// How many CPUs this process may really use: the smaller of its affinity mask (`taskset`,
/// `cpuset`) and its cgroup CPU quota, rounded up.
///
/// NIO's `System.coreCount` reads the cgroup but not the affinity mask, so a server pinned with
/// `taskset -c 0,1` on a 16-core machine would start 16 event loops for 2 CPUs: fourteen loops'
/// worth of calls then wait for a core while their timers fire late.
public enum CPUBudget {
    /// The number of event loops a server should run by default.
    public static var available: Int {
        var count = System.coreCount
        if let affinity = affinityCount() { count = min(count, affinity) }
        if let quota = cgroupQuota() { count = min(count, quota) }
        return max(1, count)
    }

    /// CPUs in this process's affinity mask (`Cpus_allowed_list` in /proc/self/status;
    /// `sched_getaffinity` is not in Swift's Glibc module).
    public static func affinityCount(status path: String = "/proc/self/status") -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return count(cpuList: line.dropFirst("Cpus_allowed_list:".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// A kernel CPU list such as "0-3,8,10-11".
    static func count(cpuList: String) -> Int? {
        var total = 0
        for part in cpuList.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                total += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], high >= low else { return nil }
                total += high - low + 1
            default:
                return nil
            }
        }
        return total > 0 ? total : nil
    }

    /// The cgroup v2 (`cpu.max`) or v1 (`cpu.cfs_quota_us` / `cpu.cfs_period_us`) quota in whole
    /// CPUs, rounded up; nil when unlimited or unknown.
    public static func cgroupQuota(root: String = "/sys/fs/cgroup") -> Int? {
        if let line = firstLine("\(root)/cpu.max") {
            return quota(cpuMax: line)
        }
        if let q = firstLine("\(root)/cpu/cpu.cfs_quota_us").flatMap({ Int($0) }),
            let p = firstLine("\(root)/cpu/cpu.cfs_period_us").flatMap({ Int($0) })
        {
            return quota(microseconds: q, period: p)
        }
        return nil
    }

    /// `cpu.max` is "QUOTA PERIOD", or "max PERIOD" when unlimited.
    static func quota(cpuMax line: String) -> Int? {
        let parts = line.split(separator: " ")
        guard parts.count == 2, let q = Int(parts[0]), let p = Int(parts[1]) else { return nil }
        return quota(microseconds: q, period: p)
    }

    static func quota(microseconds q: Int, period p: Int) -> Int? {
        guard q > 0, p > 0 else { return nil }
        return (q + p - 1) / p
    }

    private static func firstLine(_ path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
