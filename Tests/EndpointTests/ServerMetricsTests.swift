@testable import EndpointCore
import CamNIO
import Foundation
import ServerMetrics
import Testing

/// The metric catalog renders as valid Prometheus text, every series exists
/// from the start, events move the right series, and docs/METRICS.md names
/// every metric. (A real server's /metrics through promtool and a real
/// Prometheus: EndToEndTests/MetricsTests.)
@Suite struct ServerMetricsTests {
    init() {
        ServerMetrics.bootstrap(.endpoint)
        ServerMetrics.bootstrap(.streampoint)
    }

    /// The value of one series (`name{labels}` exactly as rendered), nil if absent.
    static func sample(_ series: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    static func series(_ name: String, _ labels: [(String, String)]) -> String {
        labels.isEmpty ? name : name + "{" + labels.map { "\($0.0)=\"\($0.1)\"" }.joined(separator: ",") + "}"
    }

    @Test func namesFollowPrometheusConventionsAndAreUnique() {
        let names = MetricCatalog.all.map(\.name)
        #expect(Set(names).count == names.count)
        for definition in MetricCatalog.all {
            #expect(definition.name.hasPrefix("camagent_endpoint_") || definition.name.hasPrefix("camagent_streampoint_"))
            #expect(definition.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(definition.name)")
            #expect(!definition.help.isEmpty)
            switch definition.kind {
            case .counter: #expect(definition.name.hasSuffix("_total"), "\(definition.name)")
            case .gauge: #expect(!definition.name.hasSuffix("_total"), "\(definition.name)")
            case .histogram(let buckets):
                #expect(definition.name.hasSuffix("_seconds"), "\(definition.name)")
                #expect(buckets == buckets.sorted() && Set(buckets).count == buckets.count && !buckets.isEmpty)
            }
            for label in definition.labels {
                #expect(!label.values.isEmpty && Set(label.values).count == label.values.count, "\(definition.name) \(label.name)")
            }
        }
    }

    @Test func everySeriesRendersFromTheStartWithHelpAndType() {
        let text = ServerMetrics.exposition()
        for definition in MetricCatalog.all {
            #expect(text.contains("# HELP \(definition.name) \(definition.help)\n"), "\(definition.name)")
            #expect(text.contains("# TYPE \(definition.name) \(definition.typeName)\n"), "\(definition.name)")
            for labels in definition.labelSets {
                if case .histogram(let buckets) = definition.kind {
                    #expect(Self.sample(Self.series(definition.name + "_count", labels), in: text) != nil, "\(definition.name) \(labels)")
                    let largest = labels + [("le", Self.prometheusNumber(buckets.last!))]
                    #expect(Self.sample(Self.series(definition.name + "_bucket", largest), in: text) != nil,
                            "\(Self.series(definition.name + "_bucket", largest))")
                } else {
                    #expect(Self.sample(Self.series(definition.name, labels), in: text) != nil, "\(Self.series(definition.name, labels))")
                }
            }
        }
    }

    /// Bucket bounds are printed in seconds as swift-prometheus formats them.
    static func prometheusNumber(_ value: Double) -> String {
        "\(value)"
    }

    @Test func eventsMoveTheirSeries() throws {
        func value(_ name: String, _ labels: [(String, String)] = []) -> Double {
            Self.sample(Self.series(name, labels), in: ServerMetrics.exposition()) ?? -1
        }
        let revoked = [("reason", "revoked")]
        let before = value("camagent_endpoint_login_failures_total", revoked)
        EndpointMetrics.loginFailed(.revoked)
        #expect(value("camagent_endpoint_login_failures_total", revoked) >= before + 1)

        let command = [("kind", "reboot"), ("result", "no_answer")]
        let commandsBefore = value("camagent_endpoint_commands_total", command)
        EndpointMetrics.command(kind: "reboot", result: .noAnswer)
        #expect(value("camagent_endpoint_commands_total", command) >= commandsBefore + 1)
        // A kind the catalog does not know cannot add a series.
        EndpointMetrics.command(kind: "format-disk", result: .ok)
        #expect(!ServerMetrics.exposition().contains("format-disk"))

        let toViewer = [("direction", "to_viewer")]
        let bytesBefore = value("camagent_streampoint_bytes_total", toViewer)
        StreampointMetrics.bytesToViewer(1500)
        #expect(value("camagent_streampoint_bytes_total", toViewer) >= bytesBefore + 1500)

        let handshakeBefore = value("camagent_endpoint_handshake_duration_seconds_count")
        EndpointMetrics.loginSucceeded(handshakeNanoseconds: 3_000_000)
        #expect(value("camagent_endpoint_handshake_duration_seconds_count") >= handshakeBefore + 1)
    }

    @Test func addedMediaLatencyIsRecordedPerTimedFrameAndOutput() {
        func value(_ suffix: String, _ labels: [(String, String)]) -> Double {
            Self.sample(Self.series("camagent_streampoint_media_added_latency_seconds" + suffix, labels), in: ServerMetrics.exposition()) ?? -1
        }
        let rtsp = [("output", "rtsp")], web = [("output", "web")]
        let countBefore = value("_count", rtsp), webBefore = value("_count", web)
        let fastBefore = value("_bucket", rtsp + [("le", "0.0001")])
        let within2_5msBefore = value("_bucket", rtsp + [("le", "0.0025")])
        let now: UInt64 = 10_000_000_000
        // 50 µs and 2 ms; an untimed frame (0) and a clock that went backwards are skipped.
        StreampointMetrics.mediaFramesWritten(.rtsp, arrivals: [now - 50_000, now - 2_000_000, 0, now + 5], now: now)
        // At least: a streampoint running in this test process may write frames too.
        #expect(value("_count", rtsp) >= countBefore + 2)
        #expect(value("_bucket", rtsp + [("le", "0.0001")]) >= fastBefore + 1)
        #expect(value("_bucket", rtsp + [("le", "0.0025")]) >= within2_5msBefore + 2)
        #expect(value("_count", web) >= webBefore)
    }

    @Test func refusalsMapFromProtocolErrorCodes() {
        #expect(MetricCatalog.Refusal(code: nil) == .disconnected)
        #expect(MetricCatalog.Refusal(code: .authenticationFailed) == .authenticationFailed)
        #expect(MetricCatalog.Refusal(code: .internalError) == .registryUnavailable)
        #expect(MetricCatalog.Refusal(code: .malformedFrame) == .protocolError)
        #expect(MetricCatalog.Refusal(code: .identityConflict) == .identityConflict)
    }

    struct Unreachable: Error {}

    @Test func databaseOperationsAreTimedAndTheirFailuresCounted() throws {
        func value(_ name: String, _ operation: String) -> Double {
            Self.sample(Self.series(name, [("operation", operation)]), in: ServerMetrics.exposition()) ?? -1
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLRegistryStore.open(.sqlite(path: directory.appendingPathComponent("registry.sqlite").path))
        defer { store.close() }

        let timedBefore = value("camagent_endpoint_database_duration_seconds_count", "enroll")
        _ = try store.enroll(agentID: "cam-1", verifierHex: String(repeating: "ab", count: 32), streampoint: nil)
        #expect(value("camagent_endpoint_database_duration_seconds_count", "enroll") >= timedBefore + 1)

        let errorsBefore = value("camagent_endpoint_database_errors_total", "presence")
        #expect(throws: Unreachable.self) { try DatabaseMetrics.measure(.presence) { throw Unreachable() } }
        #expect(value("camagent_endpoint_database_errors_total", "presence") >= errorsBefore + 1)
        // The registry's own refusal (a conflicting import) is no database error.
        let importErrors = value("camagent_endpoint_database_errors_total", "import_registry")
        _ = try? DatabaseMetrics.measure(.importRegistry, isDatabaseError: { !($0 is ValidationFailure) }) {
            throw ValidationFailure("conflict")
        }
        #expect(value("camagent_endpoint_database_errors_total", "import_registry") == importErrors)
    }

    @Test func promtoolAcceptsTheExposition() throws {
        let promtool = try #require(["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                    "promtool is missing: install Debian's prometheus package (Scripts/test does)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(ServerMetrics.exposition().utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool check metrics: \(report)")
    }

    @Test func docsDescribeEveryMetric() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: repository.appendingPathComponent("docs/METRICS.md"), encoding: .utf8)
        for definition in MetricCatalog.all {
            #expect(docs.contains("`\(definition.name)`"), "docs/METRICS.md does not describe \(definition.name)")
            for label in definition.labels {
                for value in label.values {
                    #expect(docs.contains(value), "docs/METRICS.md does not name \(definition.name)'s \(label.name) \(value)")
                }
            }
        }
    }
}
