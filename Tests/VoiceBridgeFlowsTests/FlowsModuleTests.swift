import Testing
@testable import VoiceBridgeFlows
