// The VoiceBridgePrompts module; see Package.swift for its one job.
