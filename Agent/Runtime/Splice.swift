import CCamShim
import CamCore

/// Moves one tunnel's bytes between the camera (target) and the streampoint
/// (data link). Two fixed queues bound its memory; EOF on one side is passed
/// on as a half-close once the queue behind it is drained, so protocols that
/// close one direction first still see every byte.
struct Splice {

    let tunnelID: UInt32
    let target: Transport
    let data: Transport
    /// camera → streampoint
    var upstream = ByteQueue(capacity: Tunables.spliceQueueBytes)
    /// streampoint → camera
    var downstream = ByteQueue(capacity: Tunables.spliceQueueBytes)
    var targetEOF = false
    var dataEOF = false
    var dataShutDown = false
    var targetShutDown = false
    var bytesUp: UInt64 = 0
    var bytesDown: UInt64 = 0

    init(tunnelID: UInt32, target: Transport, data: Transport) {
        self.tunnelID = tunnelID
        self.target = target
        self.data = data
    }

    /// The data link holds decrypted bytes poll(2) will not report, and there is room for them.
    var dataReadableWithoutPoll: Bool { !dataEOF && downstream.hasSpace && data.hasPendingInput }

    var targetEvents: Int32 {
        (!targetEOF && upstream.hasSpace ? Int32(CS_POLL_IN) : 0) | (downstream.isEmpty ? 0 : Int32(CS_POLL_OUT))
    }

    var dataEvents: Int32 {
        (!dataEOF && downstream.hasSpace ? Int32(CS_POLL_IN) : 0) | (upstream.isEmpty ? 0 : Int32(CS_POLL_OUT))
    }

    enum Outcome {
        case running
        case finished(String)
    }

    mutating func handle(targetRevents: Int32, dataRevents: Int32) -> Outcome {
        let readable = Int32(CS_POLL_IN | CS_POLL_HUP | CS_POLL_ERR)
        var readTarget = targetRevents & readable != 0
        var readData = dataRevents & readable != 0
        var round = 0
        while round < Tunables.spliceRoundsPerWakeup && (readTarget || readData || round == 0) {
            round += 1
            var again = (target: false, data: false)
            if readTarget && !targetEOF && upstream.hasSpace {
                let free = upstream.freeSpace
                let n = upstream.fill(from: target)
                if n > 0 {
                    bytesUp += UInt64(n)
                    // A read that filled the queue probably left more in the socket.
                    again.target = n == free
                } else if n == 0 {
                    targetEOF = true
                } else if n != CS_EAGAIN_RESULT_VALUE {
                    return .finished("camera side: \(errorText(n))")
                }
            }
            if readData && !dataEOF && downstream.hasSpace {
                let free = downstream.freeSpace
                let n = downstream.fill(from: data)
                if n > 0 {
                    bytesDown += UInt64(n)
                    // A TLS read ends at a record's end; the next record may be waiting.
                    again.data = n == free || data.isTLS
                } else if n == 0 {
                    dataEOF = true
                } else if n != CS_EAGAIN_RESULT_VALUE {
                    return .finished("streampoint side: \(data.errorText(n))")
                }
            }
            if !upstream.isEmpty {
                let n = upstream.drain(to: data)
                if n < 0 && n != CS_EAGAIN_RESULT_VALUE { return .finished("streampoint side: \(data.errorText(n))") }
            }
            if !downstream.isEmpty {
                let n = downstream.drain(to: target)
                if n < 0 && n != CS_EAGAIN_RESULT_VALUE { return .finished("camera side: \(errorText(n))") }
            }
            readTarget = again.target
            readData = again.data
        }
        if targetEOF && upstream.isEmpty && !dataShutDown {
            data.shutdownWrite()
            dataShutDown = true
        }
        if dataEOF && downstream.isEmpty && !targetShutDown {
            target.shutdownWrite()
            targetShutDown = true
        }
        if dataShutDown && targetShutDown { return .finished("both sides closed") }
        return .running
    }

    func closeSockets() {
        target.close()
        data.close()
    }
}
