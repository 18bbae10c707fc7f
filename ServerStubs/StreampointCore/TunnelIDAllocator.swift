/// Hands out tunnel ids: never 0, never one in use, and not one just freed
/// (ids run upward and wrap), so a late TUNNEL_BIND or TUNNEL_OPEN_FAILED for
/// an old tunnel cannot land on a new one.
struct TunnelIDAllocator {
    private(set) var next: UInt32

    init(next: UInt32 = 1) { self.next = next }

    mutating func allocate(isInUse: (UInt32) -> Bool) -> UInt32 {
        var id = next
        while id == 0 || isInUse(id) { id &+= 1 }
        next = id &+ 1
        return id
    }
}
