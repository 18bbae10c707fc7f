import Foundation

/// Text histograms and percentiles for the fleet's report.
enum Report {
    static func seconds(_ ms: Int64) -> String { String(format: "%.1f s", Double(ms) / 1000) }

    /// The value below which `fraction` of the sorted values lie (nearest rank).
    static func percentile(_ sorted: [Int64], _ fraction: Double) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    /// A bucket width from 1-2-5 steps that gives at most `maxRows` rows.
    static func niceWidth(span: Int64, maxRows: Int, minimum: Int64) -> Int64 {
        var width = minimum
        let steps: [Int64] = [1, 2, 5]
        var scale: Int64 = 1
        while true {
            for step in steps {
                width = max(minimum, step * scale)
                if span / width < Int64(maxRows) { return width }
            }
            scale *= 10
        }
    }

    static func bar(_ value: Int, of maximum: Int, width: Int = 50) -> String {
        guard maximum > 0, value > 0 else { return "" }
        return String(repeating: "#", count: max(1, value * width / maximum))
    }

    /// Histogram of durations (ms): one row per bucket from 0 to the maximum.
    static func durationHistogram(_ values: [Int64], maxRows: Int = 20) -> [String] {
        guard let maximum = values.max() else { return ["  (no samples)"] }
        let width = niceWidth(span: maximum + 1, maxRows: maxRows, minimum: 100)
        var counts = Array(repeating: 0, count: Int(maximum / width) + 1)
        for value in values { counts[Int(value / width)] += 1 }
        let top = counts.max() ?? 0
        return counts.enumerated().map { bucket, count in
            let from = Int64(bucket) * width, to = from + width
            return String(format: "  %6.1f - %6.1f s %7d ", Double(from) / 1000, Double(to) / 1000, count)
                + bar(count, of: top)
        }
    }

    /// Connection attempts per 100 ms over time, from bucket `first` to `last`.
    /// Long spans are folded into rows of several buckets, each showing the
    /// busiest 100 ms in it, so the peak rate is never averaged away.
    static func attemptTimeline(_ buckets: [Int], first: Int, last: Int, maxRows: Int = 40) -> [String] {
        guard first <= last else { return ["  (no attempts)"] }
        let span = last - first + 1
        let perRow = Int(niceWidth(span: Int64(span), maxRows: maxRows, minimum: 1))
        var rows: [(start: Int, peak: Int, total: Int)] = []
        var bucket = first
        while bucket <= last {
            let slice = (bucket..<min(bucket + perRow, last + 1)).map { $0 < buckets.count ? buckets[$0] : 0 }
            rows.append((bucket, slice.max() ?? 0, slice.reduce(0, +)))
            bucket += perRow
        }
        let top = rows.map { $0.peak }.max() ?? 0
        let label = perRow == 1 ? "attempts in 100 ms" : "busiest 100 ms of each \(Double(perRow) / 10) s (total)"
        var lines = ["  time since the first loss   \(label)"]
        for row in rows {
            let offset = Double(row.start - first) / 10
            let total = perRow == 1 ? "" : String(format: " (%d)", row.total)
            lines.append(String(format: "  %+7.1f s %7d", offset, row.peak) + total + " " + bar(row.peak, of: top))
        }
        return lines
    }

    /// "1: 812, 2: 150, 3: 38": how many agents needed how many attempts.
    static func attemptCounts(_ attempts: [Int]) -> String {
        var counts: [Int: Int] = [:]
        for value in attempts { counts[value, default: 0] += 1 }
        return counts.keys.sorted().map { "\($0): \(counts[$0]!)" }.joined(separator: ", ")
    }
}

/// Resident memory of another process (the servers), from /proc.
enum ProcessMemory {
    /// VmRSS in KiB, nil if the process is gone or /proc is unreadable.
    static func residentKiB(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }
}
