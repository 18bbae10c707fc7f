// Fuzz target: FrameDecoder and Message(frame:), the code every link runs on
// bytes from the network. Beyond "no crash" it checks that
// - the decoder gives the same frames and the same error however the bytes are
//   split (all at once, one at a time, pseudo-random pieces);
// - the frames it returns, re-encoded, plus the bytes it still holds, are exactly
//   the input (nothing lost, nothing invented);
// - a decoded Message survives encode -> decode unchanged, and its canonical
//   encoding is a fixed point.
import CamProtocol

enum FrameEvent: Equatable {
    case message(Message, frameBytes: [UInt8])
    case rejectedMessage(type: UInt8, ProtocolError, frameBytes: [UInt8])
    case badFrame(ProtocolError)
}

struct DecodeRun: Equatable {
    var events: [FrameEvent] = []
    var leftover: [UInt8] = []
}

enum Feeding { case arrays, singleBytes, bufferPointers }

/// Decodes `pieces` in order, draining frames after each piece as a link does.
/// A message that does not decode is recorded and decoding goes on (the frame
/// layer is independent of it); a bad frame header ends the run, as on a link.
func decodeAll(_ pieces: [[UInt8]], feeding: Feeding) -> DecodeRun {
    var decoder = FrameDecoder()
    var run = DecodeRun()
    for (index, piece) in pieces.enumerated() {
        switch feeding {
        case .arrays: decoder.append(piece)
        case .singleBytes: for byte in piece { decoder.append(byte) }
        case .bufferPointers: piece.withUnsafeBufferPointer { decoder.append($0) }
        }
        while true {
            let frame: Frame
            do {
                guard let next = try decoder.nextFrame() else { break }
                frame = next
            } catch {
                run.events.append(.badFrame(error))
                // What a link would never read: the bad frame and everything after it.
                run.leftover = decoder.takeRemainingBytes() + pieces[(index + 1)...].joined()
                return run
            }
            require(frame.payload.count <= ProtocolConstants.maxPayload, "payload of \(frame.payload.count) bytes passed the decoder")
            do {
                run.events.append(.message(try Message(frame: frame), frameBytes: frame.encoded()))
            } catch {
                run.events.append(.rejectedMessage(type: frame.type, error, frameBytes: frame.encoded()))
            }
        }
        require(decoder.bufferedCount < ProtocolConstants.frameHeaderSize + ProtocolConstants.maxPayload,
                "decoder holds \(decoder.bufferedCount) bytes without yielding a frame")
    }
    let buffered = decoder.bufferedCount
    run.leftover = decoder.takeRemainingBytes()
    require(run.leftover.count == buffered, "takeRemainingBytes returned \(run.leftover.count) of \(buffered) buffered bytes")
    require(decoder.bufferedCount == 0, "decoder still holds bytes after takeRemainingBytes")
    return run
}

func checkRoundTrip(_ message: Message) {
    let canonical = message.encoded()
    var decoder = FrameDecoder()
    decoder.append(canonical)
    let frame: Frame?
    do { frame = try decoder.nextFrame() } catch {
        require(false, "\(message.name): canonical encoding is a bad frame: \(error.description)")
        return
    }
    guard let frame else {
        require(false, "\(message.name): canonical encoding \(hexDump(canonical)) is not one whole frame")
        return
    }
    require(decoder.bufferedCount == 0, "\(message.name): canonical encoding has bytes after its frame")
    let again: Message
    do { again = try Message(frame: frame) } catch {
        require(false, "\(message.name): canonical encoding \(hexDump(canonical)) does not decode: \(error.description)")
        return
    }
    require(again == message, "\(message.name): decode(encode(m)) != m for \(hexDump(canonical))")
    require(again.encoded() == canonical, "\(message.name): canonical encoding is not a fixed point")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let whole = decodeAll([input], feeding: .arrays)
    let bytewise = decodeAll(singleBytes(input), feeding: .singleBytes)
    require(whole == bytewise, "one byte at a time decodes differently from all at once: \(hexDump(input))")
    let chunked = decodeAll(pseudoRandomChunks(input), feeding: .bufferPointers)
    require(whole == chunked, "pseudo-random pieces decode differently from all at once: \(hexDump(input))")

    var reassembled: [UInt8] = []
    for event in whole.events {
        switch event {
        case .message(let message, let frameBytes):
            reassembled += frameBytes
            checkRoundTrip(message)
        case .rejectedMessage(_, _, let frameBytes):
            reassembled += frameBytes
        case .badFrame:
            break
        }
    }
    reassembled += whole.leftover
    require(reassembled == input, "frames plus leftover bytes are not the input: \(hexDump(input))")
    return 0
}
