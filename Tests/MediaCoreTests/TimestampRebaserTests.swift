import MediaCore
import Testing

@Suite struct TimestampRebaserTests {
    @Test func timestampsPassUntouchedUntilARestart() {
        var rebaser = TimestampRebaser()
        #expect(rebaser.rebase(1000, track: 0, clockRate: 90_000) == 1000)
        #expect(rebaser.rebase(4600, track: 0, clockRate: 90_000) == 4600)
    }

    @Test func afterARestartEachTrackCarriesOnFromItsLastTimestamp() {
        var rebaser = TimestampRebaser()
        _ = rebaser.rebase(900_000, track: 0, clockRate: 90_000)
        _ = rebaser.rebase(480_000, track: 1, clockRate: 48_000)
        rebaser.restart()
        // The camera's new timeline starts near zero.
        #expect(rebaser.rebase(10, track: 0, clockRate: 90_000) == 900_000 + 3600)
        #expect(rebaser.rebase(3610, track: 0, clockRate: 90_000) == 900_000 + 7200)
        #expect(rebaser.rebase(0, track: 1, clockRate: 48_000) == 480_000 + 1920)
        // A second restart rebases again, from the rebased timeline.
        rebaser.restart()
        #expect(rebaser.rebase(5, track: 0, clockRate: 90_000) == 900_000 + 7200 + 3600)
    }
}
