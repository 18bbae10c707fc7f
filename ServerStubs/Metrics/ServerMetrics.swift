import CoreMetrics
import Prometheus

/// The process's metrics: one Prometheus registry, swift-metrics bootstrapped
/// onto it, and its text for `GET /metrics` on the admin port.
public enum ServerMetrics {
    public enum Server: Sendable {
        case endpoint
        case streampoint
    }

    /// Every metric of this process. Handles are made with the factory
    /// explicitly (MetricDefinition+Handles.swift), so they count here even when
    /// made before `bootstrap` (or in a test process that never bootstraps).
    public static let registry = PrometheusCollectorRegistry()
    static let factory = CatalogMetricsFactory(registry: registry)

    /// The Prometheus text exposition format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private static let bootstrapOnce: Void = MetricsSystem.bootstrap(factory)

    /// Call once at start: libraries that use swift-metrics report here too,
    /// and every series of `server` is shown from the first scrape, at zero
    /// (so `rate()` and alerts see a counter before its first event).
    /// Calling it again does nothing more.
    public static func bootstrap(_ server: Server) {
        _ = bootstrapOnce
        for definition in server == .endpoint ? MetricCatalog.endpoint : MetricCatalog.streampoint {
            definition.register()
        }
    }

    /// What `GET /metrics` answers.
    public static func exposition() -> String {
        registry.emitToString()
    }
}
