// Fuzz target: the server side of the upgrade (CamProtocol's HTTPHeadAccumulator
// and parseUpgradeRequest, run by the endpoint and streampoint on every new
// connection). Beyond "no crash" it checks that
// - the accumulator finds the same head, the same trailing bytes and the same
//   error however the bytes are split, and never holds more than its bound;
// - the head ends with the blank line and contains no earlier one;
// - an accepted request's path and Host carry no CR, LF or other control byte (a tab is
//   legal inside a header value)
//   (they reach logs and the admin API), and re-rendering the request with
//   HTTPUpgrade.request(host:) parses back to the same Host.
import CamProtocol

enum HeadOutcome: Equatable {
    case incomplete(bufferedBytes: Int)
    case complete(head: [UInt8], rest: [UInt8])
    case failed(ProtocolError)
}

/// Feeds pieces until the head is complete. `rest` is what the server hands the
/// frame decoder: the rest of the piece that completed the head, then any later pieces.
func accumulate(_ pieces: [[UInt8]]) -> HeadOutcome {
    var accumulator = HTTPHeadAccumulator()
    var fed = 0
    for (index, piece) in pieces.enumerated() {
        do {
            if let (head, rest) = try accumulator.feed(piece) {
                return .complete(head: head, rest: rest + pieces[(index + 1)...].joined())
            }
        } catch {
            return .failed(error)
        }
        fed += piece.count
    }
    return .incomplete(bufferedBytes: fed)
}

func containsBlankLine(_ bytes: ArraySlice<UInt8>) -> Bool {
    guard bytes.count >= 4 else { return false }
    var index = bytes.startIndex
    while index + 3 < bytes.endIndex {
        if bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 { return true }
        index += 1
    }
    return false
}

/// No control bytes; a header value may hold a tab (HTTP field content allows it).
func isClean(_ text: String, allowingTab: Bool = false) -> Bool {
    for byte in text.utf8 where (byte < 0x20 && !(allowingTab && byte == 9)) || byte == 0x7f { return false }
    return true
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUpgradeRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let whole = accumulate([input])
    require(whole == accumulate(singleBytes(input)), "byte at a time accumulates differently: \(hexDump(input))")
    require(whole == accumulate(pseudoRandomChunks(input)), "pseudo-random pieces accumulate differently: \(hexDump(input))")

    switch whole {
    case .incomplete(let buffered):
        require(buffered <= ProtocolConstants.maxUpgradeHeaderBytes, "accumulator held \(buffered) bytes without failing")
    case .failed(let error):
        require(error == .upgradeHeadersTooLarge && input.count > ProtocolConstants.maxUpgradeHeaderBytes,
                "accumulator failed with \(error.description) on \(input.count) bytes")
    case .complete(let head, let rest):
        require(head.count <= ProtocolConstants.maxUpgradeHeaderBytes, "head of \(head.count) bytes accepted")
        require(head + rest == input, "head plus rest is not the input")
        require(head.suffix(4) == [13, 10, 13, 10], "head does not end with the blank line")
        require(!containsBlankLine(head.dropLast(1)), "head contains an earlier blank line")
        // Both parsers see every head: the agent's response parser must refuse or accept cleanly too.
        _ = try? parseUpgradeResponse(head)
        if let request = try? parseUpgradeRequest(head) {
            require(isClean(request.path), "accepted path carries a control byte: \(hexDump(Array(request.path.utf8)))")
            if let host = request.host {
                require(isClean(host, allowingTab: true), "accepted Host carries a control byte: \(hexDump(Array(host.utf8)))")
                let rendered = HTTPUpgrade.request(host: host)
                let reparsed = try? parseUpgradeRequest(rendered)
                require(reparsed?.host == host && reparsed?.path == ProtocolConstants.upgradePath,
                        "HTTPUpgrade.request(host:) does not parse back to the same Host")
            }
        }
    }
    return 0
}
