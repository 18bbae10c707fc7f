/// The timeouts, limits and sizes this implementation chose, in one place, in
/// the manner of dropbear's default_options.h. None of them is fixed by the
/// protocol (those are CamProtocol's ProtocolConstants, shared with the
/// servers): changing one changes how this agent behaves, not what it speaks.
/// They live in CamCore, not CamProtocol, because they are the agent's alone
/// and both the core and the runtime read them. What an operator may set is
/// in the config instead (ConfigKey's table holds those ranges and defaults).
public enum Tunables {
    /// Connect plus upgrade plus the role's handshake on a control link must
    /// finish within this, so a server that accepts and then stalls cannot hold it.
    public static let controlHandshakeTimeoutMs: Int64 = 10_000
    /// A tunnel's setup (target connect, data link handshake) must finish within this.
    public static let tunnelSetupTimeoutMs: Int64 = 10_000
    /// The check whether the main endpoint answers again gives up after this.
    public static let mainEndpointCheckTimeoutMs: Int64 = 10_000
    /// AGENT_STATS goes to the endpoint this often, besides on changes and requests.
    public static let reportIntervalMs: Int64 = 60_000
    /// Bounds on the timers an endpoint's AUTH_OK may set, so a misconfigured
    /// server can neither make the agent spin nor keep it from noticing a dead peer.
    public static let heartbeatSecondsRange: ClosedRange<UInt16> = 1...300
    public static let peerTimeoutSecondsRange: ClosedRange<UInt16> = 3...900
    /// An ordered disconnect stays away at most this long.
    public static let maxDisconnectSeconds: UInt32 = 3600
    /// Streampoints whose last working address the agent remembers.
    public static let knownStreampointAddresses = 8
    /// Local tunnel ids for a streampoint id already in use (two streampoints
    /// during a switch's grace period) are taken from here up.
    public static let alternateTunnelIDBase: UInt32 = 0x8000_0000
    /// A system up for less than this has just booted (a power cut ends for a
    /// whole street at once): only then does the first dial wait `boot_jitter_ms`.
    public static let coldBootUptimeMs: Int64 = 60_000

    // The runtime's (Agent/Runtime):

    /// A control link whose peer does not read is broken; its send queue is dropped past this.
    public static let controlSendQueueBytes = 64 * 1024
    /// One read from a control link or a tunnel socket before the splice.
    public static let readChunkBytes = 4096
    /// How long one address may take to accept TCP while the others wait.
    public static let candidateTimeoutMs: Int64 = 3000
    /// Each direction of a splicing tunnel queues at most this: the per-tunnel
    /// memory bound, and what lets a slow viewer stall only its own tunnel.
    public static let spliceQueueBytes = 16 * 1024
    /// Rounds of read-then-write per wakeup while reads keep filling the
    /// queues: fewer poll(2) calls per byte on a busy tunnel, and still a
    /// bound so that one tunnel cannot starve the others or the control links.
    public static let spliceRoundsPerWakeup = 8
    /// A whole DNS lookup's limit: leaves the core's 10 s connect deadline room
    /// for TCP, TLS and the upgrade, or for the known address after a failure.
    public static let dnsLookupLimitMs: Int64 = 6000
    /// The largest DNS datagram read (the EDNS-era safe UDP size; plain DNS answers are at most 512).
    public static let dnsDatagramBytes = 1232
}
