import CCamShim

/// Moves one tunnel's bytes between the camera (target) and the streampoint
/// (data link). Two fixed queues bound its memory; EOF on one side is passed
/// on as a half-close once the queue behind it is drained, so protocols that
/// close one direction first still see every byte.
struct Splice {
    static let queueCapacity = 16 * 1024

    let tunnelID: UInt32
    let targetFD: Int32
    let dataFD: Int32
    /// camera → streampoint
    var upstream = ByteQueue(capacity: Splice.queueCapacity)
    /// streampoint → camera
    var downstream = ByteQueue(capacity: Splice.queueCapacity)
    var targetEOF = false
    var dataEOF = false
    var dataShutDown = false
    var targetShutDown = false
    var bytesUp: UInt64 = 0
    var bytesDown: UInt64 = 0

    init(tunnelID: UInt32, targetFD: Int32, dataFD: Int32) {
        self.tunnelID = tunnelID
        self.targetFD = targetFD
        self.dataFD = dataFD
    }

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
        if targetRevents & Int32(CS_POLL_IN | CS_POLL_HUP | CS_POLL_ERR) != 0 && !targetEOF && upstream.hasSpace {
            let n = upstream.fill(from: targetFD)
            if n > 0 { bytesUp += UInt64(n) } else if n == 0 { targetEOF = true } else if n != CS_EAGAIN_RESULT_VALUE {
                return .finished("camera side: \(errorText(n))")
            }
        }
        if dataRevents & Int32(CS_POLL_IN | CS_POLL_HUP | CS_POLL_ERR) != 0 && !dataEOF && downstream.hasSpace {
            let n = downstream.fill(from: dataFD)
            if n > 0 { bytesDown += UInt64(n) } else if n == 0 { dataEOF = true } else if n != CS_EAGAIN_RESULT_VALUE {
                return .finished("streampoint side: \(errorText(n))")
            }
        }
        if !upstream.isEmpty {
            let n = upstream.drain(to: dataFD)
            if n < 0 && n != CS_EAGAIN_RESULT_VALUE { return .finished("streampoint side: \(errorText(n))") }
        }
        if !downstream.isEmpty {
            let n = downstream.drain(to: targetFD)
            if n < 0 && n != CS_EAGAIN_RESULT_VALUE { return .finished("camera side: \(errorText(n))") }
        }
        if targetEOF && upstream.isEmpty && !dataShutDown {
            _ = cs_shutdown_write(dataFD)
            dataShutDown = true
        }
        if dataEOF && downstream.isEmpty && !targetShutDown {
            _ = cs_shutdown_write(targetFD)
            targetShutDown = true
        }
        if dataShutDown && targetShutDown { return .finished("both sides closed") }
        return .running
    }

    func closeSockets() {
        _ = cs_close(targetFD)
        _ = cs_close(dataFD)
    }
}
