import Foundation
import VoiceBridgeAudio

/// Writes what a simulation produced: the `--timeline` JSON and the `--out` WAV.
public enum SimulationOutput {
    /// `{"aggregate": AggregateStatistics, "calls": [CallTimeline]}`, the same shape for one call or
    /// many, so tools read one schema.
    public static func timelineJSON(_ report: SimulationReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(MultiCall(aggregate: report.aggregate, calls: report.timelines))
    }

    public static func writeTimeline(_ report: SimulationReport, to path: String) throws {
        try timelineJSON(report).write(to: URL(fileURLWithPath: path))
    }

    /// Writes what the first recorded call heard as μ-law 8 kHz mono.
    public static func writeHeard(_ report: SimulationReport, to path: String) throws {
        guard let call = report.calls.first(where: { $0.heard != nil }), let heard = call.heard else { return }
        try WAVFile.write(HeardAudio.wav(heard, format: call.heardFormat), to: path)
    }

    struct MultiCall: Codable {
        var aggregate: AggregateStatistics
        var calls: [CallTimeline]
    }
}
