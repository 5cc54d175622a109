/// One thing wrong with a configuration file, with the position it was found at.
///
/// `description` is the line `gateway check-config` prints (SPEC section 1): `PATH:LINE:COLUMN: message`.
/// Lines and columns count from 1; columns count Unicode scalars, as libyaml does.
public struct ConfigProblem: Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named to the loader.
    public var file: String
    public var line: Int
    public var column: Int
    /// What is wrong, naming the key path where one is known.
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(self.file):\(self.line):\(self.column): \(self.message)" }
}

/// Every problem of a configuration file that could not be loaded, sorted by line, then column.
///
/// The loader never stops at the first problem: a user fixing a file sees all of them at once.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(problems: [ConfigProblem]) {
        self.problems = problems
    }

    /// One problem per line.
    public var description: String { self.problems.map(\.description).joined(separator: "\n") }
}
