import Synchronization

/// Counters and latency histograms a service exposes in the Prometheus text format
/// (`/metrics`). Series are created on first use; names and label values come from the code,
/// never from a peer, so their number stays small.
public final class MetricsRegistry: Sendable {
    /// Upper bounds in seconds: 0.25 ms to 10 s, enough resolution for both a loopback search and
    /// a slow bulk add.
    public static let latencyBuckets: [Double] = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Histogram {
        var buckets = [UInt64](repeating: 0, count: MetricsRegistry.latencyBuckets.count)
        var count: UInt64 = 0
        var sum: Double = 0

        mutating func record(_ bucket: Int?, _ seconds: Double) {
            if let bucket { buckets[bucket] &+= 1 }
            count &+= 1
            sum += seconds
        }
    }

    struct Family {
        var help: String
        var isHistogram: Bool
        var counters: [String: UInt64] = [:]
        var histograms: [String: Histogram] = [:]
    }

    private let families = Mutex<[String: Family]>([:])

    public init() {}

    /// Adds `amount` to the counter `name{labels}`.
    public func count(_ name: String, help: String, labels: [(String, String)] = [], by amount: UInt64 = 1) {
        let key = Self.labelText(labels)
        families.withLock { families in
            families[name, default: Family(help: help, isHistogram: false)].counters[key, default: 0] &+= amount
        }
    }

    /// Records one observation (seconds) in the histogram `name{labels}`.
    public func observe(_ name: String, help: String, labels: [(String, String)] = [], seconds: Double) {
        let key = Self.labelText(labels)
        let bucket = Self.latencyBuckets.firstIndex { seconds <= $0 }
        families.withLock { families in
            // Updated in place: one hash lookup a level, no copy of the family.
            families[name, default: Family(help: help, isHistogram: true)].histograms[key, default: Histogram()].record(bucket, seconds)
        }
    }

    /// The value of one counter (0 when it was never counted): for tests and stats.
    public func counter(_ name: String, labels: [(String, String)] = []) -> UInt64 {
        families.withLock { $0[name]?.counters[Self.labelText(labels)] ?? 0 }
    }

    /// Every family in the Prometheus text exposition format (version 0.0.4), sorted by name.
    public func text() -> String {
        let snapshot = families.withLock { $0 }
        var out = ""
        for name in snapshot.keys.sorted() {
            let family = snapshot[name]!
            out += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.isHistogram ? "histogram" : "counter")\n"
            for key in family.counters.keys.sorted() { out += "\(name)\(key.isEmpty ? "" : "{\(key)}") \(family.counters[key]!)\n" }
            for key in family.histograms.keys.sorted() {
                let histogram = family.histograms[key]!
                let prefix = key.isEmpty ? "" : key + ","
                var cumulative: UInt64 = 0
                for (bound, count) in zip(Self.latencyBuckets, histogram.buckets) {
                    cumulative &+= count
                    out += "\(name)_bucket{\(prefix)le=\"\(bound)\"} \(cumulative)\n"
                }
                out += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(histogram.count)\n"
                out += "\(name)_sum\(key.isEmpty ? "" : "{\(key)}") \(histogram.sum)\n"
                out += "\(name)_count\(key.isEmpty ? "" : "{\(key)}") \(histogram.count)\n"
            }
        }
        return out
    }

    /// A gauge family rendered on demand (values the registry does not keep, e.g. vectors per shard).
    public static func gauge(_ name: String, help: String, samples: [([(String, String)], Double)]) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
        for (labels, value) in samples {
            let key = labelText(labels)
            out += "\(name)\(key.isEmpty ? "" : "{\(key)}") \(value)\n"
        }
        return out
    }

    static func labelText(_ labels: [(String, String)]) -> String {
        labels.map { name, value in
            var escaped = ""
            for character in value {
                switch character {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.append(character)
                }
            }
            return "\(name)=\"\(escaped)\""
        }.joined(separator: ",")
    }
}
