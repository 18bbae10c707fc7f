/// The one shape every state machine of the core answers with, in the
/// SwiftNIO `…Action` manner: each input method (an event from the runtime,
/// an order from the parent, or `tick`) takes the time and returns an
/// `Output`. `actions` go to the runtime, in order; `events` go to the parent
/// machine, which acts on them after those actions. A machine with nothing to
/// tell its parent (ControlLink) answers `Output<Never>`.
///
///     var out = Output<EndpointEvent>()
///     out += link.fail(reason, now: now, entropy: &entropy)   // an Output<Never>
///     out.emit(.stateChanged)
///     return out
struct Output<Event> {
    var actions: [AgentAction]
    var events: [Event]

    init(_ actions: [AgentAction] = [], events: [Event] = []) {
        self.actions = actions
        self.events = events
    }

    init(event: Event) {
        self.init([], events: [event])
    }

    mutating func append(_ action: AgentAction) { actions.append(action) }

    // `emit`, `+=` and `+` of two Outputs are kept out of line: inlined, each
    // call site repeats the copy code of the events (a streampoint plan is
    // large). Measured on armv5: 1.1 KB smaller; the other helpers inline
    // better as they are.
    @inline(never)
    mutating func emit(_ event: Event) { events.append(event) }

    @inline(never)
    static func += (out: inout Output, more: Output) {
        out.actions += more.actions
        out.events += more.events
    }

    /// A part without events (a ControlLink) adds only actions.
    static func += (out: inout Output, more: Output<Never>) {
        out.actions += more.actions
    }

    static func += (out: inout Output, more: [AgentAction]) {
        out.actions += more
    }

    @inline(never)
    static func + (first: Output, second: Output) -> Output {
        var out = first
        out += second
        return out
    }
}
