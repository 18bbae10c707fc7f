#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// RLIMIT_NOFILE: every agent link is a descriptor, so a server holding a fleet
/// (or the fleet simulator) needs far more than the usual soft limit of 1024.
public enum OpenFileLimit {
    /// Raises the soft limit to `wanted` (the hard limit too, where the process
    /// may: root). Never lowers either. Returns the soft limit now in force.
    @discardableResult
    public static func raise(to wanted: UInt64) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(resourceNumber, &limit) == 0 else { return 0 }
        let current = UInt64(limit.rlim_cur)
        guard current < wanted else { return current }
        if UInt64(limit.rlim_max) < wanted {
            var raised = limit
            raised.rlim_max = rlim_t(wanted)
            raised.rlim_cur = rlim_t(wanted)
            if setrlimit(resourceNumber, &raised) == 0 { return wanted }
        }
        limit.rlim_cur = rlim_t(min(wanted, UInt64(limit.rlim_max)))
        _ = setrlimit(resourceNumber, &limit)
        _ = getrlimit(resourceNumber, &limit)
        return UInt64(limit.rlim_cur)
    }

    /// What a server asks for at startup: enough for tens of thousands of links.
    public static let serverWanted: UInt64 = 65536

    #if canImport(Glibc)
    private static let resourceNumber = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceNumber = RLIMIT_NOFILE
    #endif
}
