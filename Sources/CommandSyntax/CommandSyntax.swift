/// The product's one command-line parser (issue 32), for freezectl, freezectl-engines and
/// freezectld. The command trees are small and fixed, and a `freezectl pause` must start in the
/// time of a `runc pause` (docs/performance.md): argument-parser built every option group by
/// reflection, which was most of a pause's instructions, so the grammar is read here from tables,
/// with no reflection.
///
/// The grammar, as argument-parser and getopt_long read it:
/// - `--name value` and `--name=value`; a flag takes no value (`--quiet=yes` is an error);
/// - short names: `-q`, bundled flags `-qa`, `-f value` and `-fvalue`;
/// - an option's value is the next word, whatever it starts with (`--timeout -5s` is refused as
///   negative by its parser, not taken as an option);
/// - options and arguments in any order; `--` ends the options (pause's `--hold -- COMMAND` is
///   split off before, LeaseOptions.splitCommand);
/// - `-h`/`--help` anywhere shows the command's help; a single-valued option given twice is an
///   error, a repeated flag is not.

/// One option: its names, the name of its value (nil for a flag), its help.
package struct OptionSpec: Sendable {
    /// Left out of help, man pages and completions (an internal entry point).
    package var hidden = false
    /// The long name without `--`.
    package let long: String
    /// The short name, if any.
    package let short: Character?
    /// The value's name in help (`<duration>`); nil: a flag.
    package let value: String?
    package let help: String
    /// May be given more than once (each value kept).
    package let repeatable: Bool

    package static func flag(_ long: String, short: Character? = nil, _ help: String) -> OptionSpec {
        OptionSpec(long: long, short: short, value: nil, help: help, repeatable: false)
    }

    package static func option(_ long: String, short: Character? = nil, value: String, repeatable: Bool = false, _ help: String) -> OptionSpec {
        OptionSpec(long: long, short: short, value: value, help: help, repeatable: repeatable)
    }

    /// A flag left out of help, man pages and completions (an internal entry point).
    package static func hiddenFlag(_ long: String) -> OptionSpec {
        OptionSpec(hidden: true, long: long, short: nil, value: nil, help: "", repeatable: false)
    }
}

/// Options shown together in help, under `title` (nil: OPTIONS).
package struct OptionGroupSpec: Sendable {
    package let title: String?
    package let options: [OptionSpec]

    package init(title: String? = nil, _ options: [OptionSpec]) {
        self.title = title
        self.options = options
    }

    /// The same options under another title.
    package func titled(_ title: String) -> OptionGroupSpec { OptionGroupSpec(title: title, options) }
}

/// The positional arguments of a command.
package struct ArgumentSpec: Sendable {
    /// The name in help (`<target>`).
    package let value: String
    package let help: String
    /// Exactly one (checkpoint's TARGET), or any number (pause's TARGETs).
    package let many: Bool

    package init(value: String, help: String, many: Bool) {
        self.value = value
        self.help = help
        self.many = many
    }
}

/// A command's syntax: what help shows and the parser accepts.
package struct CommandSpec: Sendable {
    /// The executable (`freezectl`).
    package let program: String
    /// The command's word (`pause`); empty for a program without commands (freezectld).
    package let name: String
    package let abstract: String
    package let discussion: String
    package let arguments: ArgumentSpec?
    package let groups: [OptionGroupSpec]

    package init(program: String, name: String, abstract: String, discussion: String = "", arguments: ArgumentSpec? = nil,
                 groups: [OptionGroupSpec]) {
        self.program = program
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.groups = groups
    }

    /// How it is invoked: `freezectl pause`, or `freezectld`.
    package var invocation: String { name.isEmpty ? program : "\(program) \(name)" }

    /// Its man page's name: `freezectl.pause`, or `freezectld`.
    package var pageName: String { name.isEmpty ? program : "\(program).\(name)" }

    /// The option a word names (`--quiet`, or a short name), if the command has it.
    func option(long: Substring) -> OptionSpec? {
        for group in groups { if let found = group.options.first(where: { $0.long == long }) { return found } }
        return nil
    }

    func option(short: Character) -> OptionSpec? {
        for group in groups { if let found = group.options.first(where: { $0.short == short }) { return found } }
        return nil
    }
}

/// A usage error: the command line is wrong; exit 2 with the message and the command's usage.
package struct UsageError: Error, CustomStringConvertible {
    package let message: String
    /// The command whose usage is shown with the message (nil: the program's).
    package var command: CommandSpec?
    package init(_ message: String, command: CommandSpec? = nil) {
        self.message = message
        self.command = command
    }
    package var description: String { message }
}

/// `-h`/`--help`, or `freezectl help [COMMAND]`: show the help of `command` (nil: the program's).
package struct HelpRequest: Error {
    package let command: CommandSpec?
    package init(command: CommandSpec?) { self.command = command }
}

/// `--version` of a program without commands (freezectld); freezectl reads its own before the command.
package struct VersionRequest: Error {
    package init() {}
}

/// A command line read against one command's spec: the options' values by long name and the
/// positional arguments, in order.
package struct ParsedLine: Sendable {
    package let spec: CommandSpec
    private(set) var values: [String: [String]] = [:]
    package private(set) var arguments: [String] = []

    /// Reads `words` (after the command's name). Throws UsageError or HelpRequest.
    package init(_ words: ArraySlice<String>, spec: CommandSpec) throws {
        self.spec = spec
        var rest = words
        while let word = rest.popFirst() {
            if word == "--" {
                arguments.append(contentsOf: rest)
                break
            }
            if word == "-h" || word == "--help" { throw HelpRequest(command: spec) }
            if word == "--version" && spec.name.isEmpty { throw VersionRequest() }
            if word.hasPrefix("--") {
                try readLong(word.dropFirst(2), rest: &rest)
            } else if word.hasPrefix("-") && word.count > 1 {
                try readShort(word.dropFirst(), rest: &rest)
            } else {
                arguments.append(word)
            }
        }
        try checkArguments()
    }

    /// `--name`, `--name value`, `--name=value`.
    private mutating func readLong(_ text: Substring, rest: inout ArraySlice<String>) throws {
        let equals = text.firstIndex(of: "=")
        let name = equals.map { text[..<$0] } ?? text
        guard let option = spec.option(long: name) else {
            throw UsageError("Unknown option '--\(name)'")
        }
        guard option.value != nil else {
            if equals != nil { throw UsageError("'--\(name)' is a flag and takes no value") }
            return record(option, "")
        }
        if let equals { return try set(option, String(text[text.index(after: equals)...])) }
        guard let value = rest.popFirst() else { throw UsageError("Missing value for '--\(name) <\(option.value ?? "")>'") }
        try set(option, value)
    }

    /// `-q`, `-qa` (flags bundled), `-f value`, `-fvalue`.
    private mutating func readShort(_ letters: Substring, rest: inout ArraySlice<String>) throws {
        var remaining = letters
        while let letter = remaining.popFirst() {
            guard let option = spec.option(short: letter) else { throw UsageError("Unknown option '-\(letter)'") }
            guard option.value != nil else {
                record(option, "")
                continue
            }
            if !remaining.isEmpty { return try set(option, String(remaining)) }
            guard let value = rest.popFirst() else { throw UsageError("Missing value for '-\(letter) <\(option.value ?? "")>'") }
            return try set(option, value)
        }
    }

    private mutating func set(_ option: OptionSpec, _ value: String) throws {
        if !option.repeatable && values[option.long] != nil {
            throw UsageError("'--\(option.long)' is given more than once; give it once")
        }
        record(option, value)
    }

    private mutating func record(_ option: OptionSpec, _ value: String) {
        values[option.long, default: []].append(value)
    }

    private func checkArguments() throws {
        guard let expected = spec.arguments else {
            if let extra = arguments.first { throw UsageError("Unexpected argument '\(extra)'") }
            return
        }
        if !expected.many {
            if arguments.isEmpty { throw UsageError("Missing expected argument '<\(expected.value)>'") }
            if arguments.count > 1 { throw UsageError("Unexpected argument '\(arguments[1])'") }
        }
    }

    /// Whether the flag `long` was given.
    package func flag(_ long: String) -> Bool { values[long] != nil }

    /// The value of the single-valued option `long`, if given.
    package func value(_ long: String) -> String? { values[long]?.last }

    /// Every value of the repeatable option `long`, in order.
    package func values(_ long: String) -> [String] { values[long] ?? [] }

    /// The value of `long` read by `parse`, or `default` when not given.
    package func value<T>(_ long: String, default: T, _ parse: (String) throws -> T) throws -> T {
        guard let text = value(long) else { return `default` }
        return try parse(text)
    }

    /// The value of `long` as one of `T`'s cases, or `default`; another word is a usage error naming them.
    package func choice<T: RawRepresentable & CaseIterable>(_ long: String, default: T) throws -> T where T.RawValue == String {
        try value(long, default: `default`) { text in
            guard let found = T(rawValue: text) else {
                throw UsageError("The value '\(text)' is invalid for '--\(long)'; give one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return found
        }
    }

    /// The value of `long` as an integer, if given.
    package func integer<T: FixedWidthInteger>(_ long: String) throws -> T? {
        try value(long, default: nil) { text in
            guard let number = T(text) else { throw UsageError("The value '\(text)' is invalid for '--\(long)': give a whole number") }
            return number
        }
    }
}
