/// `${NAME}` and `${NAME:-default}` in scalar values (SPEC section 2), applied before any unit is parsed.
///
/// The rules, chosen to be unsurprising to anyone who knows the shell:
/// - `${NAME}` is the variable's value; an unset variable is a problem (an empty one is used as it is).
/// - `${NAME:-default}` is the default when the variable is unset *or empty*; the default is literal text up to
///   the first `}` (no nesting).
/// - `$$` is one literal `$`; a `$` not followed by `{` or `$` is kept as it is (`pa$word` stays `pa$word`).
/// - `${` without a closing `}`, an empty name, or a name outside `[A-Za-z_][A-Za-z0-9_]*` is a problem.
///
/// Keys are never substituted, only values.
enum EnvironmentSubstitution {
    /// The result of substituting one scalar: the text, or a description of what went wrong.
    enum Outcome: Equatable {
        case success(String)
        case failure(String)
    }

    static func substitute(_ text: String, environment: [String: String]) -> Outcome {
        guard text.contains("$") else { return .success(text) }
        var output = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            let afterDollar = rest[rest.index(after: dollar)...]
            if afterDollar.hasPrefix("$") {
                output.append("$")
                rest = afterDollar.dropFirst()
                continue
            }
            guard afterDollar.hasPrefix("{") else {
                output.append("$")
                rest = afterDollar
                continue
            }
            let body = afterDollar.dropFirst()
            guard let close = body.firstIndex(of: "}") else {
                return .failure("'${' without a closing '}'")
            }
            let expression = body[..<close]
            rest = body[body.index(after: close)...]
            let name: Substring
            let fallback: Substring?
            if let separator = expression.firstRange(of: ":-") {
                name = expression[..<separator.lowerBound]
                fallback = expression[separator.upperBound...]
            } else {
                name = expression
                fallback = nil
            }
            guard self.isValidName(name) else {
                return .failure(
                    "'${\(expression)}' is not a valid variable reference; names are [A-Za-z_][A-Za-z0-9_]*")
            }
            let value = environment[String(name)]
            if let value, !(value.isEmpty && fallback != nil) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                return .failure("environment variable '\(name)' is not set (write ${\(name):-default} for a default)")
            }
        }
        output += rest
        return .success(output)
    }

    private static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
