import Foundation
import Synchronization

/// The `Date` header's value (IMF-fixdate, RFC 9110 §5.6.7), formatted at most once a second.
final class HTTPDate: Sendable {
    private struct Cached {
        var second: Int = -1
        var text = ""
    }

    private let cached = Mutex(Cached())

    var now: String {
        let time = Date().timeIntervalSince1970
        let second = Int(time)
        return cached.withLock { cached in
            if cached.second != second {
                cached.second = second
                cached.text = Self.format(secondsSince1970: second)
            }
            return cached.text
        }
    }

    static func format(secondsSince1970 seconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
