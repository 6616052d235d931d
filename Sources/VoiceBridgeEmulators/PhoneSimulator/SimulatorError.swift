/// Why a simulated call could not be placed.
public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    case url(String, String)
    case twiml(String)
    case webhook(String)
    case connect(String)
    case audio(String)

    public var description: String {
        switch self {
        case .url(let url, let why): "bad URL \(url): \(why)"
        case .twiml(let why): "TwiML: \(why)"
        case .webhook(let why): "webhook: \(why)"
        case .connect(let why): "stream connect: \(why)"
        case .audio(let why): "audio: \(why)"
        }
    }
}
