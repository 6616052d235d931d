// The VoiceBridgeRelay module; see Package.swift for its one job.
