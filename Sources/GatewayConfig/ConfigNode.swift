import GatewayCore
import Yams

/// A YAML node being read, with the key path that led to it and the recorder its problems go to.
///
/// Every accessor either returns a value or records exactly one problem at the node's position and returns nil, so
/// sections read as a flat list of fields and the loader collects every problem of a file in one pass.
/// Problems about a value are reported at the value; problems about the node as a whole (a missing key) at the key
/// that introduced it.
struct ConfigNode {
    let node: Node
    /// Dotted key path, e.g. `upstreams.dokstamp.retry.attempts` or `routes[2].upstream`; "" for the root.
    let path: String
    /// The position of the key this node is the value of, if any.
    let keyMark: Mark?
    let recorder: ProblemRecorder

    init(node: Node, path: String, keyMark: Mark?, recorder: ProblemRecorder) {
        self.node = node
        self.path = path
        self.keyMark = keyMark
        self.recorder = recorder
    }

    // MARK: Problems

    /// Records `message` at the value, prefixed with the key path.
    func problem(_ message: String) {
        self.record(message, at: self.node.mark)
    }

    /// Records `message` at the key that introduced this node (or the node itself at the root).
    func problemAtKey(_ message: String) {
        self.record(message, at: self.keyMark ?? self.node.mark)
    }

    private func record(_ message: String, at mark: Mark?) {
        let text = self.path.isEmpty ? message : "\(self.path): \(message)"
        self.recorder.record(text, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    // MARK: Shape

    /// A plain `~`, `null` or nothing at all.
    var isNull: Bool {
        guard case .scalar(let scalar) = self.node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// What the node is, for the "got …" half of a message.
    var shape: String {
        switch self.node {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .alias: return "an alias"
        case .scalar(let scalar): return self.isNull ? "nothing" : "'\(scalar.string)'"
        }
    }

    // MARK: Scalars

    /// The scalar's text after `${NAME}` substitution.
    func text(expecting expectation: String) -> String? {
        guard case .scalar(let scalar) = self.node, !self.isNull else {
            self.problem("expected \(expectation); got \(self.shape)")
            return nil
        }
        switch EnvironmentSubstitution.substitute(scalar.string, environment: self.recorder.environment) {
        case .success(let text):
            return text
        case .failure(let message):
            self.problem(message)
            return nil
        }
    }

    /// The scalar's substituted text converted by `parse`; a nil from `parse` is "expected …; got '…'".
    func value<Value>(expecting expectation: String, _ parse: (String) -> Value?) -> Value? {
        guard let text = self.text(expecting: expectation) else { return nil }
        guard let value = parse(text) else {
            self.problem("expected \(expectation); got '\(text)'")
            return nil
        }
        return value
    }

    /// A non-empty string.
    func string() -> String? {
        self.value(expecting: "a non-empty string") { $0.isEmpty ? nil : $0 }
    }

    func bool() -> Bool? {
        self.value(expecting: "true or false") { text in
            switch text {
            case "true": return true
            case "false": return false
            default: return nil
            }
        }
    }

    func integer(atLeast minimum: Int) -> Int? {
        self.value(expecting: "an integer >= \(minimum)") { text in
            guard let value = Int(text), value >= minimum else { return nil }
            return value
        }
    }

    func integer(in range: ClosedRange<Int>) -> Int? {
        self.value(expecting: "an integer from \(range.lowerBound) to \(range.upperBound)") { text in
            guard let value = Int(text), range.contains(value) else { return nil }
            return value
        }
    }

    func double(in range: ClosedRange<Double>) -> Double? {
        self.value(expecting: "a number from \(range.lowerBound) to \(range.upperBound)") { text in
            guard let value = Double(text), range.contains(value) else { return nil }
            return value
        }
    }

    /// A duration (see `ConfigUnits`); zero only where `allowingZero`.
    func duration(allowingZero: Bool = false) -> Duration? {
        guard let duration = self.value(expecting: "a duration like 250ms, 2s, 1m", { ConfigUnits.parseDuration($0) })
        else { return nil }
        guard allowingZero || duration > .zero else {
            self.problem("expected a duration longer than 0")
            return nil
        }
        return duration
    }

    /// A size in bytes (see `ConfigUnits`); zero only where `allowingZero`.
    func size(allowingZero: Bool = false) -> Int? {
        guard let size = self.value(expecting: "a size like 512, 16KiB, 10MiB", { ConfigUnits.parseSize($0) }) else {
            return nil
        }
        guard allowingZero || size > 0 else {
            self.problem("expected a size larger than 0")
            return nil
        }
        return size
    }

    /// One of the raw values of `Choice`.
    func choice<Choice: RawRepresentable & CaseIterable>(_: Choice.Type) -> Choice? where Choice.RawValue == String {
        let names = Choice.allCases.map(\.rawValue).joined(separator: ", ")
        return self.value(expecting: "one of \(names)") { Choice(rawValue: $0) }
    }

    // MARK: Collections

    /// The items of a sequence; nothing (`~`) reads as an empty sequence.
    func sequence() -> [ConfigNode]? {
        if self.isNull { return [] }
        guard case .sequence(let sequence) = self.node else {
            self.problem("expected a sequence; got \(self.shape)")
            return nil
        }
        return sequence.enumerated().map { index, item in
            ConfigNode(node: item, path: "\(self.path)[\(index)]", keyMark: nil, recorder: self.recorder)
        }
    }

    /// The entries of a mapping whose keys are names chosen by the user (upstreams, policies, codes, headers), in
    /// file order; nothing (`~`) reads as an empty mapping.
    func entries() -> [ConfigEntry]? {
        if self.isNull { return [] }
        guard case .mapping(let mapping) = self.node else {
            self.problem("expected a mapping; got \(self.shape)")
            return nil
        }
        var entries: [ConfigEntry] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                let keyNode = ConfigNode(node: key, path: self.path, keyMark: nil, recorder: self.recorder)
                keyNode.problem("expected a key name; got \(keyNode.shape)")
                continue
            }
            // A key the loader renamed because it was a duplicate: already reported, skipped with its value.
            if scalar.string.hasPrefix(DuplicateKeys.marker) { continue }
            let childPath = self.path.isEmpty ? scalar.string : "\(self.path).\(scalar.string)"
            entries.append(
                ConfigEntry(
                    name: scalar.string, keyLine: scalar.mark?.line ?? 1, keyColumn: scalar.mark?.column ?? 1,
                    value: ConfigNode(node: value, path: childPath, keyMark: scalar.mark, recorder: self.recorder)))
        }
        return entries
    }

    /// A mapping with a fixed set of keys; every other key is reported as unknown, at the key.
    func mapping(allowedKeys: [String]) -> ConfigMapping? {
        guard let entries = self.entries() else { return nil }
        var values: [String: ConfigNode] = [:]
        for entry in entries {
            if allowedKeys.contains(entry.name) {
                values[entry.name] = entry.value
                continue
            }
            let location = self.path.isEmpty ? "at the top level" : "in \(self.path)"
            var message = "unknown key '\(entry.name)' \(location)"
            if let suggestion = KeySuggestion.closest(to: entry.name, among: allowedKeys) {
                message += " (did you mean '\(suggestion)'?)"
            }
            self.recorder.record(message, line: entry.keyLine, column: entry.keyColumn)
        }
        return ConfigMapping(node: self, values: values)
    }
}

/// One `name: value` pair of a user-named mapping.
struct ConfigEntry {
    let name: String
    let keyLine: Int
    let keyColumn: Int
    let value: ConfigNode

    /// Records `message` at the key, prefixed with the value's key path.
    func problemAtKey(_ message: String) {
        self.value.problemAtKey(message)
    }
}

/// A mapping whose unknown keys have been reported; gives the known ones by name.
struct ConfigMapping {
    let node: ConfigNode
    let values: [String: ConfigNode]

    subscript(key: String) -> ConfigNode? { self.values[key] }

    /// The value of a key that must be present; its absence is reported at the mapping's own key.
    func required(_ key: String) -> ConfigNode? {
        if let value = self.values[key] { return value }
        self.node.problemAtKey("missing required key '\(key)'")
        return nil
    }
}

/// "Did you mean …?" for unknown keys: the allowed key within edit distance 2, if there is one.
enum KeySuggestion {
    static func closest(to key: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, self.distance(Array(key), Array($0))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 2, best.1 < key.count else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    private static func distance(_ lhs: [Character], _ rhs: [Character]) -> Int {
        var previous = Array(0...rhs.count)
        for (i, left) in lhs.enumerated() {
            var current = [i + 1]
            for (j, right) in rhs.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (left == right ? 0 : 1)))
            }
            previous = current
        }
        return previous[rhs.count]
    }
}

extension ConfigEntry {
    /// Names of upstreams and policies appear in metrics labels and `RateLimit-Policy`: letters, digits, `_-.` only.
    /// Returns whether the name is acceptable; records a problem at the key otherwise.
    func checkName(kind: String) -> Bool {
        let valid =
            !self.name.isEmpty
            && self.name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }
        if !valid {
            self.value.recorder.record(
                "\(kind) name '\(self.name)' may contain only letters, digits, '_', '-' and '.'",
                line: self.keyLine, column: self.keyColumn)
        }
        return valid
    }
}
