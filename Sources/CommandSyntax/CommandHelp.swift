/// A program's whole syntax: its options before a command, and its commands (none for a program
/// that is one command, like freezectld, whose options are all here).
package struct ProgramSpec: Sendable {
    package let name: String
    /// What `--version` prints (and the man pages' header names).
    package let version: String
    package let abstract: String
    package let discussion: String
    package let options: [OptionSpec]
    package let commands: [CommandSpec]

    package init(name: String, version: String, abstract: String, discussion: String, options: [OptionSpec], commands: [CommandSpec]) {
        self.name = name
        self.version = version
        self.abstract = abstract
        self.discussion = discussion
        self.options = options
        self.commands = commands
    }

    /// The program as one command (its options, no arguments): what freezectld parses with.
    package var asCommand: CommandSpec {
        CommandSpec(program: name, name: "", abstract: abstract, discussion: discussion, groups: [OptionGroupSpec(options)])
    }

    /// The command named `name`; an unknown name is a usage error listing them.
    package func command(named name: String) throws -> CommandSpec { try Self.command(named: name, in: commands) }

    /// The same over `commands` alone: a start looks its command up without building the whole
    /// program's help text.
    package static func command(named name: String, in commands: [CommandSpec]) throws -> CommandSpec {
        guard let spec = commands.first(where: { $0.name == name }) else {
            throw UsageError("Unknown command '\(name)'; the commands: \(commands.map(\.name).joined(separator: ", "))")
        }
        return spec
    }
}

/// Help and usage text from the specs (CommandSyntax.swift), laid out as argument-parser and
/// docker lay theirs out: OVERVIEW, the discussion, USAGE, ARGUMENTS, the option groups, each
/// entry's help in a column from 26, wrapped at 80.
package enum CommandHelp {
    /// The column where an entry's help starts.
    private static let column = 26
    private static let width = 80

    /// `PROGRAM COMMAND --help` (or a program's without commands).
    package static func text(for spec: CommandSpec) -> String {
        var sections = [wrap("OVERVIEW: \(spec.abstract)", indent: 0)]
        if !spec.discussion.isEmpty { sections.append(wrap(spec.discussion, indent: 0)) }
        sections.append("USAGE: \(usage(for: spec))")
        if let arguments = spec.arguments {
            sections.append("ARGUMENTS:\n" + entry("<\(arguments.value)>", arguments.help))
        }
        var titled: [(title: String, entries: [String])] = [("OPTIONS", [])]
        for group in spec.groups {
            let entries = group.options.filter { !$0.hidden }.map { entry(label($0), $0.help) }
            let title = group.title?.uppercased() ?? "OPTIONS"
            if let index = titled.firstIndex(where: { $0.title == title }) {
                titled[index].entries += entries
            } else {
                titled.append((title, entries))
            }
        }
        if spec.name.isEmpty { titled[0].entries.append(entry("--version", "Show the version.")) }
        titled[0].entries.append(entry("-h, --help", "Show help information."))
        sections += titled.filter { !$0.entries.isEmpty }.map { "\($0.title):\n" + $0.entries.joined(separator: "\n") }
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// `PROGRAM --help` of a program with commands: its options and the commands.
    package static func text(for program: ProgramSpec) -> String {
        guard !program.commands.isEmpty else { return text(for: program.asCommand) }
        var sections = [wrap("OVERVIEW: \(program.abstract)", indent: 0), wrap(program.discussion, indent: 0),
                        "USAGE: \(program.name) [<options>] <subcommand>"]
        let entries = program.options.filter { !$0.hidden }.map { entry(label($0), $0.help) }
            + [entry("--version", "Show the version."), entry("-h, --help", "Show help information.")]
        sections.append("OPTIONS:\n" + entries.joined(separator: "\n"))
        sections.append("SUBCOMMANDS:\n" + program.commands.map { entry($0.name, $0.abstract) }.joined(separator: "\n")
            + "\n\n  See '\(program.name) help <subcommand>' for detailed help.")
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// The usage line: `freezectl pause [<options>] [<target> ...]`.
    package static func usage(for spec: CommandSpec) -> String {
        var words = [spec.invocation]
        if spec.groups.contains(where: { $0.options.contains { !$0.hidden } }) { words.append("[<options>]") }
        if let arguments = spec.arguments {
            words.append(arguments.many ? "[<\(arguments.value)> ...]" : "<\(arguments.value)>")
        }
        return words.joined(separator: " ")
    }

    /// What a usage error prints: the message, the usage line, where help is.
    package static func usageError(_ error: UsageError, program: ProgramSpec) -> String {
        let usage = error.command.map(usage(for:)) ?? "\(program.name) [<options>] <subcommand>"
        let help = error.command?.invocation ?? program.name
        return "Error: \(error.message)\nUsage: \(usage)\n  See '\(help) --help' for more information."
    }

    /// `--name <value>` with the short name first.
    static func label(_ option: OptionSpec) -> String {
        var names = option.short.map { "-\($0), " } ?? ""
        names += "--\(option.long)"
        if let value = option.value { names += " <\(value)>" }
        return names
    }

    /// "  LABEL   help wrapped in its column"; a label too long for the column puts the help on the next line.
    private static func entry(_ label: String, _ help: String) -> String {
        let lead = "  " + label
        let body = wrap(help, indent: column)
        if lead.count < column - 1 {
            return lead + String(repeating: " ", count: column - lead.count) + body.dropFirst(column)
        }
        return lead + "\n" + body
    }

    /// `text` with each line wrapped at `width`, indented by `indent` spaces; its own line breaks
    /// are kept (the TARGET table of freezectl's discussion).
    private static func wrap(_ text: String, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // A line that fits is kept as written (a table's columns).
            if indent + paragraph.count <= width {
                lines.append(paragraph.isEmpty ? "" : pad + paragraph)
                continue
            }
            // A long line's own leading spaces (a table's indent) are kept on each of its lines.
            let leading = String(paragraph.prefix { $0 == " " })
            var line = pad + leading
            var empty = true
            for word in paragraph.split(separator: " ") {
                if !empty && line.count + 1 + word.count > width {
                    lines.append(line)
                    line = pad + leading
                    empty = true
                }
                line += (empty ? "" : " ") + word
                empty = false
            }
            lines.append(empty ? "" : line)
        }
        return lines.joined(separator: "\n")
    }
}

#if canImport(Glibc)
import Glibc
#endif

extension ProgramSpec {
    /// The options of a program without commands (freezectld, freezectl-bench) read from
    /// `words`. What asks for help, the version, a man page or completions is printed and the
    /// program ends (0); a usage error ends it with exit 2 (`exitWithUsageError`).
    package func parseOrExit(_ words: ArraySlice<String>) -> ParsedLine {
        do {
            if let text = try CommandDocs.requested(by: words, of: self) { exitPrinting(text) }
            return try ParsedLine(words, spec: asCommand)
        } catch is HelpRequest {
            exitPrinting(CommandHelp.text(for: self))
        } catch is VersionRequest {
            exitPrinting(version + "\n")
        } catch let usage as UsageError {
            exitWithUsageError(usage)
        } catch {
            exitWithUsageError(UsageError("\(error)"))
        }
    }

    /// Says `error` with the usage on standard error and exits 2.
    package func exitWithUsageError(_ error: UsageError) -> Never {
        var error = error
        error.command = error.command ?? (commands.isEmpty ? asCommand : nil)
        let text = CommandHelp.usageError(error, program: self) + "\n"
        // A message to a closed standard error is lost either way; the exit code still says it.
        _ = Array(text.utf8).withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(2)
    }

    private func exitPrinting(_ text: String) -> Never {
        print(text, terminator: "")
        exit(0)
    }
}
