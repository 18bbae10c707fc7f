import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// Resolves each server name once for the whole fleet: 10,000 agents asking
/// getaddrinfo for "localhost" on every reconnect would measure the resolver,
/// not the servers. Like the agent, the first address is the one dialled.
final class AddressCache: @unchecked Sendable {
    private let lock = NIOLock()
    private var resolved: [String: SocketAddress] = [:]

    func resolve(host: String, port: UInt16) throws -> SocketAddress {
        let key = "\(host) \(port)"
        if let address = lock.withLock({ resolved[key] }) { return address }
        let address = try SocketAddress.makeAddressResolvingHost(host, port: Int(port))
        lock.withLock { resolved[key] = address }
        return address
    }
}

enum FileHandleWriter {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
