// Pure: the NIO glue (Tunnel) feeds close events in and carries out the returned actions.

enum SpliceSide: CustomStringConvertible {
    case viewer
    case agent

    var other: SpliceSide { self == .viewer ? .agent : .viewer }
    var description: String { self == .viewer ? "viewer" : "agent" }
}

/// Close bookkeeping of one spliced tunnel. Half-close travels across (EOF in
/// from one side becomes a shutdown of the output to the other side, after the
/// bytes already queued there are written); when both directions are done, or
/// one side closes outright, both sides close.
struct SpliceStateMachine {
    enum Action: Equatable {
        case none
        /// Write what is queued to `side`, then shut down its output.
        case shutdownOutputAfterDrain(SpliceSide)
        /// The partner of `side` is gone: write what is queued to `side`, then close it.
        case closeAfterDrain(SpliceSide)
        /// Both directions finished: close both channels.
        case closeBoth
        /// Both channels are closed: account for the tunnel and forget it.
        case finished
    }

    private struct PerSide {
        var inputClosed = false
        var outputShutdown = false
        var inactive = false
    }

    private var viewer = PerSide()
    private var agent = PerSide()

    private subscript(side: SpliceSide) -> PerSide {
        get { side == .viewer ? viewer : agent }
        set { if side == .viewer { viewer = newValue } else { agent = newValue } }
    }

    var isFinished: Bool { viewer.inactive && agent.inactive }

    /// EOF arrived from `side`.
    mutating func inputClosed(_ side: SpliceSide) -> Action {
        guard !self[side].inputClosed, !self[side].inactive else { return .none }
        self[side].inputClosed = true
        if self[side.other].inactive || self[side.other].outputShutdown { return .none }
        return .shutdownOutputAfterDrain(side.other)
    }

    /// The output shutdown of `side` completed.
    mutating func outputShutdown(_ side: SpliceSide) -> Action {
        guard !self[side].outputShutdown else { return .none }
        self[side].outputShutdown = true
        if viewer.outputShutdown && agent.outputShutdown && !viewer.inactive && !agent.inactive {
            return .closeBoth
        }
        return .none
    }

    /// The channel of `side` closed.
    mutating func channelInactive(_ side: SpliceSide) -> Action {
        guard !self[side].inactive else { return .none }
        self[side].inactive = true
        if self[side.other].inactive { return .finished }
        return .closeAfterDrain(side.other)
    }
}
