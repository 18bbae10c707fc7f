// The wasm2c route's speed benchmark (Toolchains/wasm/bench/run.sh): the same
// Swift, built once natively (Embedded x86_64) and once through wasm2c, does
//   sha256  SHA-256 (CamProtocol's) of 32 MiB in 64 KiB updates: compute,
//           array loads/stores (each one range-checked under wasm2c)
//   frames  encode and parse 200,000 small protocol-like frames with a
//           Dictionary of open ids: allocation, refcounting, hashing
// and prints the milliseconds of each (cs_monotonic_ms), so start-up is
// excluded. It replaces Agent/Main/main.swift in a copy of the agent's tree.
import CCamShim
import CamProtocol
import CamRuntime

func sha256Phase() -> (Int64, String) {
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    for i in 0..<chunk.count { chunk[i] = UInt8(truncatingIfNeeded: i &* 7 &+ 3) }
    let start = cs_monotonic_ms()
    var hasher = SHA256()
    for _ in 0..<512 { hasher.update(chunk) }
    let digest = hasher.finalize()
    return (cs_monotonic_ms() - start, Hex.encode(digest))
}

func framesPhase() -> (Int64, Int) {
    let start = cs_monotonic_ms()
    var open: [UInt32: [UInt8]] = [:]
    var checksum = 0
    for i in 0..<200_000 {
        let id = UInt32(truncatingIfNeeded: i % 97)
        var frame: [UInt8] = [1, UInt8(truncatingIfNeeded: i), 0, 0]
        let payload = [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 16 + i % 48)
        frame.append(UInt8(truncatingIfNeeded: payload.count >> 8))
        frame.append(UInt8(truncatingIfNeeded: payload.count))
        frame += payload
        // "parse": length prefix, then keep or drop the payload by id.
        let length = Int(frame[4]) << 8 | Int(frame[5])
        let body = Array(frame[6..<(6 + length)])
        if open[id] == nil { open[id] = body } else { open[id] = nil }
        checksum &+= body.count &+ open.count
    }
    return (cs_monotonic_ms() - start, checksum)
}

let (shaMs, digest) = sha256Phase()
let (frameMs, checksum) = framesPhase()
writeStdout("sha256 \(shaMs) ms \(digest)\nframes \(frameMs) ms \(checksum)\n")
