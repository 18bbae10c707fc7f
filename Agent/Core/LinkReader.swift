import CamProtocol

/// What an agent-side link yields from the bytes it receives.
public enum LinkInput: Equatable, Sendable {
    case upgraded
    case message(Message)
    /// Tunnel bytes, once a data link has finished its handshake.
    case raw([UInt8])
    case violation(ProtocolError)
    /// The server did not switch protocols: it is still speaking HTTP, so no ERROR frame is owed.
    case upgradeFailed(ProtocolError)
}

/// Turns the bytes of one agent-side link into protocol events: first the HTTP
/// `101` head, then frames, and on a tunnel data link raw bytes after HELLO_ACK.
/// Pure and single-step, so it is fuzzed and tested byte by byte.
public struct LinkReader: Sendable {
    private enum Phase: Sendable {
        case head
        case frames
        case raw
        case failed
    }

    private var phase = Phase.head
    private var head = HTTPHeadAccumulator()
    private var frames = FrameDecoder()
    private let rawAfterHelloAck: Bool

    public init(rawAfterHelloAck: Bool) {
        self.rawAfterHelloAck = rawAfterHelloAck
    }

    public mutating func feed(_ bytes: [UInt8]) -> [LinkInput] {
        var inputs: [LinkInput] = []
        switch phase {
        case .failed:
            return inputs
        case .raw:
            if !bytes.isEmpty { inputs.append(.raw(bytes)) }
            return inputs
        case .head:
            do {
                guard let (headBytes, rest) = try head.feed(bytes) else { return inputs }
                try parseUpgradeResponse(headBytes)
                inputs.append(.upgraded)
                phase = .frames
                frames.append(rest)
            } catch {
                phase = .failed
                inputs.append(.upgradeFailed(error))
                return inputs
            }
        case .frames:
            frames.append(bytes)
        }
        drainFrames(into: &inputs)
        return inputs
    }

    private mutating func drainFrames(into inputs: inout [LinkInput]) {
        while true {
            let message: Message
            do {
                guard let frame = try frames.nextFrame() else { return }
                message = try Message(frame: frame)
            } catch {
                phase = .failed
                inputs.append(.violation(error))
                return
            }
            inputs.append(.message(message))
            if rawAfterHelloAck, case .helloAck = message {
                phase = .raw
                let rest = frames.takeRemainingBytes()
                if !rest.isEmpty { inputs.append(.raw(rest)) }
                return
            }
            if case .error = message {
                // The peer closes after ERROR; nothing after it is meaningful.
                phase = .failed
                return
            }
        }
    }
}
