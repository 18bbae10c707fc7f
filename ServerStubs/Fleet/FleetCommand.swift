import ArgumentParser

struct FleetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camagent-fleet",
        abstract: "Simulate a fleet of cameras (thousands of camagent agents in one process) against real servers.",
        discussion: """
            Each simulated agent runs the camera agent's own protocol and state machine
            (CamProtocol and CamCore, the same code as the camagent binary); only the
            sockets and timers are SwiftNIO's instead of the camera's poll loop. Use it
            to see how camagent-endpoint and camagent-streampoint hold a fleet: how fast
            10,000 cameras come up, how they reconnect after an endpoint restart (no
            storm), and how much server memory each connected camera costs.

            Two steps:
              1. camagent-fleet make-registry --count 10000 --key-seed fleet.seed \\
                     --out fleet.sqlite
                 enrolls the agents (endpoint registry; keys derived from the seed).
              2. camagent-fleet run --endpoint https://localhost:7000 --ca-file ca.pem \\
                     --count 10000 --key-seed fleet.seed [--endpoint-restart]
                 runs them against the endpoint serving that registry.

            `camagent-fleet help make-registry` and `camagent-fleet help run` explain
            the options and the report. Scripts/bench --fleet runs the whole thing.
            """,
        subcommands: [MakeRegistryCommand.self, RunCommand.self]
    )
}
