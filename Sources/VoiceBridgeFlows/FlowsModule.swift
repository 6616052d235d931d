// The VoiceBridgeFlows module; see Package.swift for its one job.
