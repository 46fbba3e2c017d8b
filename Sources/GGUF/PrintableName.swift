/// Names read from a file (metadata keys, tensor names) made safe for a one-line error message.
///
/// A corrupt file can make the parser read kilobytes of raw bytes, NULs and escape sequences as a "key";
/// printed as is, that would flood the terminal or drive it. Control, format and unassigned characters
/// become `\u{…}` escapes, and long names are cut with a note of how long they were.
public enum PrintableName {
    public static let defaultLimit = 80

    /// The name with unprintable characters escaped, at most `limit` characters long before the length note.
    public static func of(_ name: String, limit: Int = defaultLimit) -> String {
        var text = ""
        var width = 0
        for scalar in name.unicodeScalars {
            let shown = isPrintable(scalar) ? String(scalar) : escaped(scalar)
            if width + shown.count > limit {
                return text + "… (\(name.utf8.count) bytes)"
            }
            text += shown
            width += shown.count
        }
        return text
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .unassigned, .surrogate, .privateUse, .lineSeparator, .paragraphSeparator:
            return false
        default:
            return true
        }
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        "\\u{" + String(scalar.value, radix: 16) + "}"
    }
}
