/// Picks viewer listener ports: 0 (ephemeral) when `base` is 0, otherwise the
/// lowest port from `base` upward that this process does not hold or try already.
struct ViewerPortAllocator {
    let base: Int
    private(set) var reserved = Set<Int>()

    init(base: Int) { self.base = base }

    var isEphemeral: Bool { base == 0 }

    /// Reserves and returns the next candidate at or above `from` (default `base`); nil when none is left.
    mutating func reserve(from: Int? = nil) -> Int? {
        if isEphemeral { return 0 }
        var port = max(from ?? base, base)
        while port <= 65535 {
            if reserved.insert(port).inserted { return port }
            port += 1
        }
        return nil
    }

    mutating func release(_ port: Int) {
        guard !isEphemeral else { return }
        reserved.remove(port)
    }
}
