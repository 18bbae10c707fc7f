// Line and word splitting for the small system files the resolver reads
// (resolv.conf, hosts), on bytes: hand-written loops rather than the generic
// `split`, whose specialisations cost kilobytes on armv5.

/// The lines of `text` (split at LF; empty lines dropped).
func byteLines(_ text: [UInt8]) -> [ArraySlice<UInt8>] {
    var lines: [ArraySlice<UInt8>] = []
    var start = 0
    for index in 0...text.count where index == text.count || text[index] == 0x0A {
        if index > start { lines.append(text[start..<index]) }
        start = index + 1
    }
    return lines
}

/// The words of `line`, separated by spaces, tabs and CRs.
func byteWords(_ line: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
    var words: [ArraySlice<UInt8>] = []
    var start = line.startIndex
    for index in line.startIndex...line.endIndex {
        let blank = index == line.endIndex || line[index] == 0x20 || line[index] == 0x09 || line[index] == 0x0D
        guard blank else { continue }
        if index > start { words.append(line[start..<index]) }
        start = index + 1
    }
    return words
}

/// Whether `word` starts with `literal` (or is exactly it, with `whole`).
func bytesMatch(_ word: ArraySlice<UInt8>, _ literal: StaticString, whole: Bool = true) -> Bool {
    let count = literal.utf8CodeUnitCount
    guard whole ? word.count == count : word.count >= count else { return false }
    var index = word.startIndex
    for offset in 0..<count {
        guard word[index] == literal.utf8Start[offset] else { return false }
        index += 1
    }
    return true
}

func asciiLowercase(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
