import ArgumentParser
import Foundation

// Errors the operator can fix are one line on stderr and exit 1; ArgumentParser
// handles usage errors (exit 64) and --help.
do {
    var command = try FirmwareCommand.parseAsRoot()
    try command.run()
} catch let error as FirmwareError {
    FileHandle.standardError.write(Data("camagent-firmware: \(error)\n".utf8))
    exit(1)
} catch {
    FirmwareCommand.exit(withError: error)
}
