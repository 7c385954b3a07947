import Prometheus

extension PrometheusMetricsFactory {
    /// The services' metrics factory: swift-prometheus's default duration buckets start at 5 ms,
    /// where an ingest commit takes about 1 ms and a cached-token post a few, so every answer fell
    /// in the first bucket; these start at 100 µs. Value buckets start at 1 for batch sizes.
    public static func fleetgate(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.defaultValueHistogramBuckets = [
            1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000, 50_000, 100_000,
        ]
        return factory
    }
}
