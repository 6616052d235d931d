// The VoiceBridgeRecording module; see Package.swift for its one job.
