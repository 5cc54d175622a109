import GatewayCore

/// A dialect written in the config (`dialect: {code, message, errors, error_field, error_message, error_code}`),
/// by JSON Pointer.
enum MappingDialect {
    static let name = "mapping"

    static func read(_ document: JSONValue, mapping: DialectMapping) -> VendorError? {
        var error = VendorError(dialectName: Self.name)
        if let pointer = mapping.code { error.code = document.resolve(pointer: pointer)?.scalarText }
        if let pointer = mapping.message { error.message = document.resolve(pointer: pointer)?.nonEmptyString }
        if let pointer = mapping.errors, let errors = document.resolve(pointer: pointer) {
            if let members = errors.objectMembers {
                error.fieldErrors = GenericItem.fieldMap(members)
            } else if let items = errors.arrayItems {
                error.fieldErrors = items.compactMap { Self.item($0, mapping: mapping) }
            }
        }
        return error.isEmpty ? nil : error
    }

    private static func item(_ item: JSONValue, mapping: DialectMapping) -> VendorError.FieldError? {
        if let text = item.nonEmptyString { return VendorError.FieldError(message: text) }
        guard mapping.errorField != nil || mapping.errorMessage != nil || mapping.errorCode != nil else {
            return GenericItem.fieldError(item)
        }
        let message = mapping.errorMessage.flatMap { item.resolve(pointer: $0)?.nonEmptyString }
        let code = mapping.errorCode.flatMap { item.resolve(pointer: $0)?.scalarText }
        guard let text = message ?? code else { return nil }
        return VendorError.FieldError(
            field: mapping.errorField.flatMap { item.resolve(pointer: $0)?.scalarText }, message: text, code: code)
    }
}
