import Foundation

/// A configuration mistake, located: `millwright.yaml:14: defects.crack.min_confidence: must be a number from 0 to 1`.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var key: String
    public var message: String

    public init(file: String, line: Int?, key: String, message: String) {
        self.file = file; self.line = line; self.key = key; self.message = message
    }

    public var description: String {
        let at = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(at): \(message)" : "\(at): \(key): \(message)"
    }
}
