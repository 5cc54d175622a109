import GatewayCore

/// One family of JSON error bodies: how to tell it from the others, and how to read it.
///
/// `recognise` is cheap and conservative (it is asked in turn by ``ShapeDetector`` under `auto`); `read` may be
/// asked without `recognise` when the config names the family, and then returns nil if the body says nothing it
/// understands.
protocol JSONDialect: Sendable {
    /// The name in the config and in `upstream.dialect`.
    static var name: String { get }
    /// One line for `gateway dialects`.
    static var summary: String { get }
    static func recognise(_ document: JSONValue) -> Bool
    static func read(_ document: JSONValue) -> VendorError?
    /// The top-level members the family reads in full: a body with no other member holds nothing the generic
    /// reader could add, and is not walked again (nil: always look).
    static var completeMembers: Set<String>? { get }
}

extension JSONDialect {
    static var completeMembers: Set<String>? { nil }
}
