// MediaCore: the host-side media stages built on CamMedia's frames: the fMP4
// muxer, the GOP cache, the per-viewer queues and the ingest state machine.
// Pure (no NIO, no Foundation I/O), so the streampoint and the recorder share
// them and tests drive them with a manual clock.
@_exported import CamMedia
