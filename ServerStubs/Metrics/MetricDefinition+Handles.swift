import CoreMetrics

/// swift-metrics handles for catalog metrics, made with ServerMetrics' factory.
extension MetricDefinition {
    func counter(_ labels: [(String, String)] = []) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: labels, factory: ServerMetrics.factory)
    }

    func meter(_ labels: [(String, String)] = []) -> Meter {
        Meter(label: name, dimensions: labels, factory: ServerMetrics.factory)
    }

    func timer(_ labels: [(String, String)] = []) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: name, dimensions: labels, factory: ServerMetrics.factory)
    }

    /// One counter per value of the metric's only label.
    func counters<Value: CaseIterable & Hashable & RawRepresentable>(by _: Value.Type) -> [Value: CoreMetrics.Counter]
        where Value.RawValue == String
    {
        let label = labels[0].name
        return Dictionary(uniqueKeysWithValues: Value.allCases.map { ($0, counter([(label, $0.rawValue)])) })
    }

    /// One timer per value of the metric's only label.
    func timers<Value: CaseIterable & Hashable & RawRepresentable>(by _: Value.Type) -> [Value: CoreMetrics.Timer]
        where Value.RawValue == String
    {
        let label = labels[0].name
        return Dictionary(uniqueKeysWithValues: Value.allCases.map { ($0, timer([(label, $0.rawValue)])) })
    }

    /// Creates every series of the metric, at zero.
    func register() {
        for labels in labelSets {
            switch kind {
            case .counter: _ = counter(labels)
            case .gauge: _ = meter(labels)
            case .histogram: _ = timer(labels)
            }
        }
    }
}
