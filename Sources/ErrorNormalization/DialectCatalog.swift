/// The names a config's `dialect:` may use, with one line each, in the order `gateway dialects` prints them.
enum DialectCatalog {
    static let entries: [(name: String, summary: String)] = {
        var entries: [(name: String, summary: String)] = [
            (name: "auto", summary: "recognise the family from the body and headers (default)"),
            (name: ProblemJSONDialect.name, summary: ProblemJSONDialect.summary),
            (name: NestedErrorDialect.name, summary: NestedErrorDialect.summary),
            (name: LaravelDialect.name, summary: LaravelDialect.summary),
            (name: NestJSDialect.name, summary: NestJSDialect.summary),
            (name: FieldMapDialect.name, summary: FieldMapDialect.summary),
            (name: OAuth2Dialect.name, summary: OAuth2Dialect.summary),
            (name: JSONAPIDialect.name, summary: JSONAPIDialect.summary),
            (name: GraphQLDialect.name, summary: GraphQLDialect.summary),
            (name: GoogleDialect.name, summary: GoogleDialect.summary),
            (name: XMLDialect.name, summary: XMLDialect.summary),
            (name: TextDialect.name, summary: TextDialect.summary),
            (name: GenericDialect.name, summary: GenericDialect.summary),
            (name: GenericDialect.formerName, summary: "the generic reader's former name"),
            (name: SlackDialect.name, summary: SlackDialect.summary),
        ]
        for preset in VendorPreset.all { entries.append((name: preset.name, summary: preset.summary)) }
        return entries
    }()
}
