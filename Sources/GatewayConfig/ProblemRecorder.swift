/// Collects the problems found while one file is read, and the environment used for `${NAME}` substitution.
///
/// A reference type on purpose: every `ConfigNode` of one read shares it, so helpers deep in a section can record a
/// problem without threading an `inout` through every call. It lives only for the duration of one `parse` call,
/// on one thread.
final class ProblemRecorder {
    let file: String
    let environment: [String: String]
    private var recorded: [ConfigProblem] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    func record(_ message: String, line: Int, column: Int) {
        self.recorded.append(ConfigProblem(file: self.file, line: line, column: column, message: message))
    }

    /// The problems sorted by line, then column; problems at the same position keep the order they were found in.
    var problems: [ConfigProblem] {
        self.recorded.enumerated().sorted { lhs, rhs in
            (lhs.element.line, lhs.element.column, lhs.offset) < (rhs.element.line, rhs.element.column, rhs.offset)
        }.map(\.element)
    }

    var isEmpty: Bool { self.recorded.isEmpty }
}
