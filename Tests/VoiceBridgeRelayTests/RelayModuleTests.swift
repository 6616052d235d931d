import Testing
@testable import VoiceBridgeRelay
