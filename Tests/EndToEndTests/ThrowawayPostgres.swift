import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL cluster of its own for one test: Debian's `postgresql` package
/// (initdb and pg_ctl from /usr/lib/postgresql/N/bin), run as the `postgres`
/// user when the tests run as root, in a temporary folder, listening on a free
/// loopback port. Starting throws (the test fails) rather than skipping.
final class ThrowawayPostgres {
    let directory: URL
    let port: Int
    private let binDirectory: String
    private let runAs: [String]
    private var running = false

    init() throws {
        guard let bin = Self.findBinDirectory() else {
            throw ClusterError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); Scripts/test installs Debian's postgresql package")
        }
        binDirectory = bin
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("camagent-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if geteuid() == 0 {
            // initdb refuses root: the cluster belongs to the postgres user.
            guard let user = getpwnam("postgres") else { throw ClusterError("no postgres user (is the postgresql package installed?)") }
            chown(directory.path, user.pointee.pw_uid, user.pointee.pw_gid)
            runAs = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        } else {
            runAs = []
        }
        port = try Self.freeLoopbackPort()
        try start()
    }

    /// `postgres://postgres@127.0.0.1:PORT/NAME` of a new, empty database.
    func createDatabase(_ name: String) throws -> String {
        try runChecked("\(binDirectory)/createdb", ["-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", name])
        return url(database: name)
    }

    func url(database: String) -> String { "postgres://postgres@127.0.0.1:\(port)/\(database)" }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }

    private func start() throws {
        try runChecked("\(binDirectory)/initdb", ["-D", dataDirectory, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        try startServer()
    }

    /// The server goes away (its data stays), as in an outage.
    func takeDown() throws {
        try runChecked("\(binDirectory)/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
    }

    /// Back on the same port with the same data.
    func bringBack() throws {
        try startServer()
    }

    /// The server hangs: it still accepts TCP connections (the kernel does) but
    /// answers nothing, as a database that is overloaded or behind a black hole.
    /// SIGSTOP to the postmaster and every backend; `thaw` resumes them.
    func freeze() throws {
        let pids = try serverProcesses()
        for pid in pids { kill(pid, SIGSTOP) }
        frozen = pids
    }

    func thaw() {
        for pid in frozen { kill(pid, SIGCONT) }
        frozen = []
    }

    private var frozen: [pid_t] = []

    /// The postmaster (from postmaster.pid) and its children (from /proc).
    private func serverProcesses() throws -> [pid_t] {
        let pidFile = (try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8)) ?? ""
        guard let first = pidFile.split(separator: "\n").first, let postmaster = pid_t(first) else {
            throw ClusterError("no postmaster.pid in \(dataDirectory)")
        }
        var pids = [postmaster]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == postmaster { pids.append(pid) }
        }
        return pids
    }

    private func startServer() throws {
        let data = dataDirectory
        // No fsync: a test's data need not survive a power cut, and it is faster.
        let options = "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
        try runChecked("\(binDirectory)/pg_ctl", ["-D", data, "-o", options, "-l", directory.appendingPathComponent("server.log").path,
                                                  "-w", "-t", "60", "start"])
        running = true
    }

    func stop() {
        guard running else { return }
        running = false
        thaw()
        try? runChecked("\(binDirectory)/pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// The server's own log, for a failing test's message.
    var serverLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }

    /// Runs a PostgreSQL tool and waits for it (at most 120 s). posix_spawn
    /// rather than Foundation's Process: the server pg_ctl leaves running would
    /// inherit Process's watch on its child, and the wait would never end.
    private func runChecked(_ executable: String, _ arguments: [String]) throws {
        let (command, all) = commandLine(executable, arguments)
        let output = directory.appendingPathComponent("tool.out").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([command] + all).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, command, &actions, nil, argv, environ) == 0 else {
            throw ClusterError("cannot start \(command)")
        }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(120)
        while waitpid(pid, &status, WNOHANG) == 0 {
            guard Date() < deadline else {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw ClusterError("\(executable) did not finish within 120 s")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let out = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw ClusterError("\(executable) \(arguments.joined(separator: " ")) failed (status \(status)): \(out)\n\(serverLog)")
        }
    }

    /// The command, run as the postgres user when we are root.
    private func commandLine(_ executable: String, _ arguments: [String]) -> (String, [String]) {
        runAs.isEmpty ? (executable, arguments) : (runAs[0], Array(runAs.dropFirst()) + [executable] + arguments)
    }

    private static func findBinDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        return nil
    }

    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw ClusterError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
