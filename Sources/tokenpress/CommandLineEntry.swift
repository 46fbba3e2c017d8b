import ArgumentParser
import Foundation

/// How the command line reaches the commands: negative numbers kept as option values, and every
/// parse or run error printed as one line naming what is wrong (no usage dump, no help wall).
enum CommandLineEntry {
    static func run(_ arguments: [String]) -> Never {
        do {
            var command = try TokenPress.parseAsRoot(attachingNegativeValues(arguments))
            try command.run()
            exit(EXIT_SUCCESS)
        } catch {
            let code = TokenPress.exitCode(for: error)
            // --help, --version and clean exits print what ArgumentParser prints.
            guard code != .success else { TokenPress.exit(withError: error) }
            let message = TokenPress.message(for: error)
            let firstLine = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? "\(error)"
            FileHandle.standardError.write(Data(("Error: " + trimmedPrefix(firstLine) + "\n").utf8))
            exit(code.rawValue)
        }
    }

    /// `--seed -1` would read `-1` as an option and report a missing value; `--seed=-1` reaches the option,
    /// whose own check then names the bad value. Only a token that looks like a negative number is attached,
    /// and only to the option just before it.
    static func attachingNegativeValues(_ arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            let next = index + 1 < arguments.count ? arguments[index + 1] : nil
            if argument == "--" {
                result += arguments[index...]
                break
            }
            if isOptionName(argument), let value = next, looksNegative(value) {
                result.append(argument + "=" + value)
                index += 2
            } else {
                result.append(argument)
                index += 1
            }
        }
        return result
    }

    private static func isOptionName(_ argument: String) -> Bool {
        argument.hasPrefix("-") && !argument.contains("=") && !looksNegative(argument) && argument.count > 1
    }

    private static func looksNegative(_ argument: String) -> Bool {
        guard argument.hasPrefix("-"), argument.count > 1 else { return false }
        let rest = argument.dropFirst()
        let first = rest.first!
        return first.isNumber || first == "." || rest.lowercased().hasPrefix("inf") || rest.lowercased() == "nan"
    }

    /// ArgumentParser already starts its messages with "Error: " in some paths.
    private static func trimmedPrefix(_ line: String) -> String {
        line.hasPrefix("Error: ") ? String(line.dropFirst("Error: ".count)) : line
    }
}
