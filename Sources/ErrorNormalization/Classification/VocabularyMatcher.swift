import GatewayCore

/// Matches codes and messages against ``Vocabulary``'s entries, compiled once into word patterns.
struct VocabularyMatcher: Sendable {
    /// One word of an entry: a whole word, or a stem (`throttl*`).
    struct Pattern: Sendable {
        var text: Substring
        var isStem: Bool

        func matches(_ word: Substring) -> Bool {
            self.isStem ? word.utf8.starts(with: self.text.utf8) : word == self.text
        }
    }

    struct Entry: Sendable {
        var phrase: String
        var patterns: [Pattern]
        var code: ErrorCode
    }

    /// What matched: the entry's phrase (for `gateway explain`) and its code.
    struct Match: Sendable, Equatable {
        var phrase: String
        var code: ErrorCode
    }

    let entries: [Entry]
    /// Entries by their first word, when it is a whole word: a text's words are looked up, not every entry tried.
    private let byFirstWord: [Substring: [Int]]
    /// Entries whose first word is a stem, tried at every position.
    private let stemFirst: [Int]

    init(_ table: [(words: String, code: ErrorCode)]) {
        self.entries = table.map { row in
            let patterns = row.words.split(separator: " ").map { word in
                word.hasSuffix("*") ? Pattern(text: word.dropLast(), isStem: true) : Pattern(text: word, isStem: false)
            }
            return Entry(phrase: row.words, patterns: patterns, code: row.code)
        }
        var byFirstWord: [Substring: [Int]] = [:]
        var stemFirst: [Int] = []
        for (position, entry) in self.entries.enumerated() {
            guard let first = entry.patterns.first else { continue }
            if first.isStem {
                stemFirst.append(position)
            } else {
                byFirstWord[first.text, default: []].append(position)
            }
        }
        self.byFirstWord = byFirstWord
        self.stemFirst = stemFirst
    }

    static let codes = VocabularyMatcher(Vocabulary.codeEntries)
    static let messages = VocabularyMatcher(Vocabulary.messageEntries)

    /// The entries whose words stand in `words` next to each other and in order, most words first, then in table
    /// order, each code once.
    func matchesInSequence(_ words: [Substring]) -> [Match] {
        var found: [(entry: Int, size: Int)] = []
        func consider(_ position: Int, at start: Int) {
            let patterns = self.entries[position].patterns
            guard start + patterns.count <= words.count, !found.contains(where: { $0.entry == position }) else {
                return
            }
            for offset in 1..<max(1, patterns.count) where !patterns[offset].matches(words[start + offset]) { return }
            found.append((position, patterns.count))
        }
        for start in words.indices {
            for position in self.byFirstWord[words[start]] ?? [] { consider(position, at: start) }
            for position in self.stemFirst where self.entries[position].patterns[0].matches(words[start]) {
                consider(position, at: start)
            }
        }
        found.sort { $0.size != $1.size ? $0.size > $1.size : $0.entry < $1.entry }
        return self.unique(found.map(\.entry))
    }

    /// Whether the best entry a message matches means a spent quota.
    func saysQuota(_ message: String) -> Bool {
        self.matchesInSequence(CodeWords.words(message)).first?.code == .quotaExceeded
    }

    private func unique(_ positions: [Int]) -> [Match] {
        var result: [Match] = []
        for position in positions where !result.contains(where: { $0.code == self.entries[position].code }) {
            result.append(Match(phrase: self.entries[position].phrase, code: self.entries[position].code))
        }
        return result
    }
}
