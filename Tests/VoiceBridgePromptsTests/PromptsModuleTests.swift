import Testing
@testable import VoiceBridgePrompts
