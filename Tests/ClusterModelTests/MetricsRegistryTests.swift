import Testing
@testable import ClusterModel

/// The Prometheus text the coordinator serves: counters, cumulative histogram buckets and
/// escaped label values, in the exposition format's grammar.
@Suite struct MetricsRegistryTests {
    @Test func countersAndHistogramsRender() {
        let registry = MetricsRegistry()
        registry.count("demo_total", help: "Demo counter.", labels: [("kind", "search")])
        registry.count("demo_total", help: "Demo counter.", labels: [("kind", "search")], by: 2)
        registry.count("demo_total", help: "Demo counter.", labels: [("kind", "add")])
        for seconds in [0.0001, 0.003, 0.003, 20] {
            registry.observe("demo_seconds", help: "Demo latency.", labels: [("kind", "search")], seconds: seconds)
        }
        #expect(registry.counter("demo_total", labels: [("kind", "search")]) == 3)
        let lines = registry.text().split(separator: "\n").map(String.init)
        #expect(lines.contains("# TYPE demo_total counter"))
        #expect(lines.contains("demo_total{kind=\"search\"} 3"))
        #expect(lines.contains("demo_total{kind=\"add\"} 1"))
        #expect(lines.contains("# TYPE demo_seconds histogram"))
        #expect(lines.contains("demo_seconds_bucket{kind=\"search\",le=\"0.00025\"} 1"))
        #expect(lines.contains("demo_seconds_bucket{kind=\"search\",le=\"0.005\"} 3"))
        #expect(lines.contains("demo_seconds_bucket{kind=\"search\",le=\"10.0\"} 3"))
        #expect(lines.contains("demo_seconds_bucket{kind=\"search\",le=\"+Inf\"} 4"))
        #expect(lines.contains("demo_seconds_count{kind=\"search\"} 4"))
        // Buckets never decrease.
        let counts = lines.filter { $0.hasPrefix("demo_seconds_bucket") }.compactMap { Int($0.split(separator: " ").last!) }
        #expect(counts == counts.sorted())
    }

    @Test func labelValuesAreEscaped() {
        let registry = MetricsRegistry()
        registry.count("odd_total", help: "Odd labels.", labels: [("route", "a\"b\\c\nd")])
        #expect(registry.text().contains("odd_total{route=\"a\\\"b\\\\c\\nd\"} 1"))
        let gauge = MetricsRegistry.gauge("g", help: "A gauge.", samples: [([("shard", "0")], 5), ([], 1.5)])
        #expect(gauge == "# HELP g A gauge.\n# TYPE g gauge\ng{shard=\"0\"} 5.0\ng 1.5\n")
    }
}
