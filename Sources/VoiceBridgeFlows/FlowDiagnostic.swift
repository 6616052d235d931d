/// One problem found in a flow file, with where it is. Errors stop a flow from loading;
/// warnings are reported by `flows check` but the flow still runs.
public struct FlowDiagnostic: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    public var location: FlowLocation
    public var message: String

    public init(_ severity: Severity = .error, at location: FlowLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `file:line: error: message`, the form editors and CI logs link to.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// A flow directory that did not load: every diagnostic, errors first.
public struct FlowLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [FlowDiagnostic]

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
