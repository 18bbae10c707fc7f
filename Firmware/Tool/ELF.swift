/// Just enough ELF to check that an agent binary fits a board: class,
/// byte order, machine, and that it is statically linked (no PT_INTERP).
struct ELFInfo: Equatable {
    var is64Bit: Bool
    var bigEndian: Bool
    var machine: UInt16
    var hasInterpreter: Bool

    static let machineARM: UInt16 = 40, machineMIPS: UInt16 = 8, machineX86_64: UInt16 = 62, machineAArch64: UInt16 = 183

    init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 52, bytes[0] == 0x7F, bytes[1] == UInt8(ascii: "E"), bytes[2] == UInt8(ascii: "L"),
              bytes[3] == UInt8(ascii: "F") else { throw FirmwareError("not an ELF executable") }
        is64Bit = bytes[4] == 2
        bigEndian = bytes[5] == 2
        let big = bigEndian
        func u16(_ at: Int) -> Int { big ? Int(bytes[at]) << 8 | Int(bytes[at + 1]) : Int(bytes[at + 1]) << 8 | Int(bytes[at]) }
        func u32(_ at: Int) -> Int { big ? u16(at) << 16 | u16(at + 2) : u16(at + 2) << 16 | u16(at) }
        func u64(_ at: Int) -> Int { big ? u32(at) << 32 | u32(at + 4) : u32(at + 4) << 32 | u32(at) }
        machine = UInt16(u16(18))
        let phoff = is64Bit ? u64(32) : u32(28)
        let phentsize = u16(is64Bit ? 54 : 42), phnum = u16(is64Bit ? 56 : 44)
        var interpreter = false
        for index in 0..<phnum {
            let offset = phoff + index * phentsize
            guard offset >= 0, offset + 4 <= bytes.count else { throw FirmwareError("truncated ELF program headers") }
            if u32(offset) == 3 { interpreter = true }  // PT_INTERP
        }
        hasInterpreter = interpreter
    }

    /// What a binary for `cpuTarget` must look like: (64-bit, big-endian, machine).
    static func expected(for cpuTarget: String) -> (is64Bit: Bool, bigEndian: Bool, machine: UInt16)? {
        switch cpuTarget {
        case "x86_64": return (true, false, machineX86_64)
        case "aarch64": return (true, false, machineAArch64)
        case "armv5", "armv7", "armv7hf": return (false, false, machineARM)
        case "mipsel": return (false, false, machineMIPS)
        case "mips": return (false, true, machineMIPS)
        default: return nil
        }
    }

    var summary: String {
        let name: String
        switch machine {
        case Self.machineARM: name = "ARM"
        case Self.machineMIPS: name = "MIPS"
        case Self.machineX86_64: name = "x86-64"
        case Self.machineAArch64: name = "AArch64"
        default: name = "machine \(machine)"
        }
        return "\(is64Bit ? 64 : 32)-bit \(bigEndian ? "big" : "little")-endian \(name)"
    }
}
