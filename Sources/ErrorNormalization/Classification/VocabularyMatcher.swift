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

    init(_ table: [(words: String, code: ErrorCode)]) {
        self.entries = table.map { row in
            let patterns = row.words.split(separator: " ").map { word in
                word.hasSuffix("*") ? Pattern(text: word.dropLast(), isStem: true) : Pattern(text: word, isStem: false)
            }
            return Entry(phrase: row.words, patterns: patterns, code: row.code)
        }
    }

    static let codes = VocabularyMatcher(Vocabulary.codeEntries)
    static let messages = VocabularyMatcher(Vocabulary.messageEntries)

    /// The entries whose words stand in `words` next to each other and in order, most words first, then in table
    /// order, each code once.
    func matchesInSequence(_ words: [Substring]) -> [Match] {
        var found: [(entry: Int, size: Int)] = []
        for (position, entry) in self.entries.enumerated() {
            let count = entry.patterns.count
            guard count <= words.count else { continue }
            var start = 0
            while start + count <= words.count {
                var all = true
                for offset in 0..<count where !entry.patterns[offset].matches(words[start + offset]) {
                    all = false
                    break
                }
                if all {
                    found.append((position, count))
                    break
                }
                start += 1
            }
        }
        found.sort { $0.size != $1.size ? $0.size > $1.size : $0.entry < $1.entry }
        return self.unique(found.map(\.entry))
    }

    private func unique(_ positions: [Int]) -> [Match] {
        var result: [Match] = []
        for position in positions where !result.contains(where: { $0.code == self.entries[position].code }) {
            result.append(Match(phrase: self.entries[position].phrase, code: self.entries[position].code))
        }
        return result
    }
}
