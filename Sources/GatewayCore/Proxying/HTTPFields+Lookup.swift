public import HTTPTypes

extension HTTPFields {
    /// The value of the fields called `name`, joined as the name subscript joins them (`", "`, or `"; "` for
    /// `Cookie`), or nil when there is none.
    ///
    /// Found by a plain scan of the fields. The subscript goes through a lazy sequence of the matching fields and a
    /// generic join, which a profile of the error storm showed at about a microsecond a lookup: more than a whole
    /// field line's parsing. The request path reads fields this way.
    public func value(of name: HTTPField.Name) -> String? {
        var result: String?
        // Names of another length are passed over without comparing their text (a count is at hand; two strings'
        // comparison is not, for names longer than a small string's 15 bytes).
        let length = name.canonicalName.utf8.count
        for field in self where field.name.canonicalName.utf8.count == length && field.name == name {
            if let joined = result {
                result = joined + (name == .cookie ? "; " : ", ") + field.value
            } else {
                result = field.value
            }
        }
        return result
    }
}
