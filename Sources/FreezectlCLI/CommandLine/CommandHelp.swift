/// Help and usage text from the commands' specs (CommandSyntax.swift), laid out as
/// argument-parser and docker lay theirs out: OVERVIEW, the discussion, USAGE, ARGUMENTS, the
/// option groups, each entry's help in a column from 26, wrapped at 80.
package enum CommandHelp {
    /// The column where an entry's help starts.
    private static let column = 26
    private static let width = 80

    /// `freezectl COMMAND --help`.
    package static func text(for spec: CommandSpec) -> String {
        var sections = [wrap("OVERVIEW: \(spec.abstract)", indent: 0)]
        if !spec.discussion.isEmpty { sections.append(wrap(spec.discussion, indent: 0)) }
        sections.append("USAGE: \(usage(for: spec))")
        if let arguments = spec.arguments {
            sections.append("ARGUMENTS:\n" + entry("<\(arguments.value)>", arguments.help))
        }
        var titled: [(title: String, entries: [String])] = [("OPTIONS", [])]
        for group in spec.groups {
            let entries = group.options.map { entry(label($0), $0.help) }
            let title = group.title?.uppercased() ?? "OPTIONS"
            if let index = titled.firstIndex(where: { $0.title == title }) {
                titled[index].entries += entries
            } else {
                titled.append((title, entries))
            }
        }
        titled[0].entries.append(entry("-h, --help", "Show help information."))
        sections += titled.filter { !$0.entries.isEmpty }.map { "\($0.title):\n" + $0.entries.joined(separator: "\n") }
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// `freezectl --help`: the root's options and the commands.
    package static func rootText(abstract: String, discussion: String, options: [OptionSpec], commands: [CommandSpec]) -> String {
        var sections = [wrap("OVERVIEW: \(abstract)", indent: 0), wrap(discussion, indent: 0), "USAGE: freezectl [<options>] <subcommand>"]
        let entries = options.map { entry(label($0), $0.help) }
            + [entry("--version", "Show the version."), entry("-h, --help", "Show help information.")]
        sections.append("OPTIONS:\n" + entries.joined(separator: "\n"))
        sections.append("SUBCOMMANDS:\n" + commands.map { entry($0.name, $0.abstract) }.joined(separator: "\n")
            + "\n\n  See 'freezectl help <subcommand>' for detailed help.")
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// The usage line: `freezectl pause [<options>] [<target> ...]`.
    package static func usage(for spec: CommandSpec) -> String {
        var words = ["freezectl", spec.name]
        if spec.groups.contains(where: { !$0.options.isEmpty }) { words.append("[<options>]") }
        if let arguments = spec.arguments {
            words.append(arguments.many ? "[<\(arguments.value)> ...]" : "<\(arguments.value)>")
        }
        return words.joined(separator: " ")
    }

    /// What a usage error prints: the message, the usage line, where help is.
    package static func usageError(_ message: String, spec: CommandSpec?) -> String {
        guard let spec else { return "Error: \(message)\nUsage: freezectl [<options>] <subcommand>\n  See 'freezectl --help' for more information." }
        return "Error: \(message)\nUsage: \(usage(for: spec))\n  See 'freezectl \(spec.name) --help' for more information."
    }

    private static func label(_ option: OptionSpec) -> String {
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
    /// are kept (the TARGET table of the root's discussion).
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
