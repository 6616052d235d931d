import Testing
@testable import VoiceBridgeRecording
