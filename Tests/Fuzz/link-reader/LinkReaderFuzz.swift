// Fuzz target: the agent side of a link (CamCore's LinkReader): the server's
// HTTP 101 head (parseUpgradeResponse), then frames, then on a tunnel data link
// raw bytes after HELLO_ACK. Every input runs as a control link and as a data
// link. Beyond "no crash" it checks that
// - the events are the same however the bytes are split (raw tunnel bytes are
//   compared as one stream, since their chunking follows the reads);
// - the event sequence is well formed: `upgraded` first and once, nothing after
//   a failure or an ERROR message, raw bytes only after HELLO_ACK on a data link;
// - raw tunnel bytes are exactly the tail of the input;
// - a rejected upgrade reports a real HTTP status (100 to 599).
import CamCore
import CamProtocol

/// LinkInput with consecutive raw pieces merged into one.
func normalized(_ inputs: [LinkInput]) -> [LinkInput] {
    var result: [LinkInput] = []
    for input in inputs {
        if case .raw(let more) = input, case .raw(let earlier)? = result.last {
            result[result.count - 1] = .raw(earlier + more)
        } else {
            result.append(input)
        }
    }
    return result
}

func readAll(_ pieces: [[UInt8]], rawAfterHelloAck: Bool) -> [LinkInput] {
    var reader = LinkReader(rawAfterHelloAck: rawAfterHelloAck)
    var inputs: [LinkInput] = []
    for piece in pieces { inputs += reader.feed(piece) }
    return normalized(inputs)
}

func describe(_ inputs: [LinkInput]) -> String {
    inputs.map { input -> String in
        switch input {
        case .upgraded: return "upgraded"
        case .message(let message): return message.name
        case .raw(let bytes): return "raw(\(bytes.count))"
        case .violation(let error): return "violation(\(error.description))"
        case .upgradeFailed(let error): return "upgradeFailed(\(error.description))"
        }
    }.joined(separator: ", ")
}

func checkWellFormed(_ inputs: [LinkInput], input: [UInt8], rawAfterHelloAck: Bool) {
    var upgraded = false
    var closed = false
    var sawHelloAck = false
    for (index, event) in inputs.enumerated() {
        require(!closed, "event after the link closed: \(describe(inputs))")
        switch event {
        case .upgraded:
            require(index == 0 && !upgraded, "upgraded is not the first event: \(describe(inputs))")
            upgraded = true
        case .upgradeFailed(let error):
            require(index == 0, "upgradeFailed after the upgrade: \(describe(inputs))")
            if case .upgradeRejected(let status) = error {
                require((100...599).contains(status) && status != 101,
                        "upgrade rejected with impossible HTTP status \(status)")
            }
            closed = true
        case .violation:
            require(upgraded, "frame violation before the upgrade: \(describe(inputs))")
            closed = true
        case .message(let message):
            require(upgraded, "message before the upgrade: \(describe(inputs))")
            require(!(rawAfterHelloAck && sawHelloAck), "message after HELLO_ACK on a data link: \(describe(inputs))")
            if case .helloAck = message { sawHelloAck = true }
            if case .error = message { closed = true }
        case .raw(let bytes):
            require(rawAfterHelloAck && sawHelloAck, "raw bytes outside a bound data link: \(describe(inputs))")
            require(!bytes.isEmpty, "empty raw event")
            require(index == inputs.count - 1, "raw bytes are not the last event: \(describe(inputs))")
            require(bytes.count <= input.count && Array(input.suffix(bytes.count)) == bytes,
                    "raw tunnel bytes are not the tail of the input")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLinkReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    for rawAfterHelloAck in [false, true] {
        let whole = readAll([input], rawAfterHelloAck: rawAfterHelloAck)
        checkWellFormed(whole, input: input, rawAfterHelloAck: rawAfterHelloAck)
        let bytewise = readAll(singleBytes(input), rawAfterHelloAck: rawAfterHelloAck)
        require(whole == bytewise, "byte at a time differs: [\(describe(whole))] vs [\(describe(bytewise))]")
        let chunked = readAll(pseudoRandomChunks(input), rawAfterHelloAck: rawAfterHelloAck)
        require(whole == chunked, "pseudo-random pieces differ: [\(describe(whole))] vs [\(describe(chunked))]")
    }
    return 0
}
