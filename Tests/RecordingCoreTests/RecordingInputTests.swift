import CamMedia
import RecordingCore
import Testing

@Suite struct RecordingSettingsTests {
    @Test func settingsWithoutRetentionHaveNoLimits() {
        let settings = RecordingSettings(agentID: "cam-1", target: "rtsp", enabled: true)
        #expect(settings.retentionDays == nil)
        #expect(settings.retentionBytes == nil)
        #expect(settings != RecordingSettings(agentID: "cam-1", target: "rtsp", enabled: false))
    }
}
