/// The man pages and shell completions of a program, made from the same specs the parser reads
/// (CommandSyntax.swift), so that they cannot drift from it. scripts/install.sh and the .deb
/// ask the installed binaries for them:
///
///     freezectl --generate-manual freezectl.pause 2026-12-07   one page (man(7) macros)
///     freezectl --generate-completion-script bash|zsh|fish
package enum CommandDocs {
    /// The page names: the program's, then `PROGRAM.COMMAND` for each command.
    package static func pageNames(_ program: ProgramSpec) -> [String] { [program.name] + program.commands.map(\.pageName) }

    /// The page `name` (one of `pageNames`) dated `date`, or nil for an unknown name.
    package static func manualPage(_ name: String, of program: ProgramSpec, date: String) -> String? {
        let header = ".TH \(name.uppercased()) 1 \"\(date)\" \"\(program.name) \(program.version)\" \"General Commands Manual\""
        if name == program.name && !program.commands.isEmpty {
            var page = [header, ".SH NAME", "\(program.name) \\- \(roff(program.abstract))", ".SH SYNOPSIS",
                        ".B \(program.name)", "[<options>] <command>", ".SH DESCRIPTION"]
            page += paragraphs(program.discussion)
            page += [".SH OPTIONS"] + program.options.filter { !$0.hidden }.flatMap(entry)
            page += [".SH COMMANDS"] + program.commands.flatMap { [".TP", "\\fB\($0.name)\\fR", roff($0.abstract)] }
            page += [".SH \"SEE ALSO\"", program.commands.map { "\\fB\($0.pageName)\\fR(1)" }.joined(separator: ", ")]
            return page.joined(separator: "\n") + "\n"
        }
        let spec: CommandSpec
        if name == program.name {
            spec = program.asCommand
        } else {
            guard let found = program.commands.first(where: { $0.pageName == name }) else { return nil }
            spec = found
        }
        var page = [header, ".SH NAME", "\(name) \\- \(roff(spec.abstract))", ".SH SYNOPSIS",
                    ".B \(spec.invocation)", roff(String(CommandHelp.usage(for: spec).dropFirst(spec.invocation.count + 1))),
                    ".SH DESCRIPTION"]
        page += paragraphs(spec.discussion)
        if let arguments = spec.arguments {
            page += [".SH ARGUMENTS", ".TP", "\\fI<\(arguments.value)>\\fR", roff(arguments.help)]
        }
        for group in spec.groups where group.options.contains(where: { !$0.hidden }) {
            page += [".SH \"\((group.title ?? "Options").uppercased())\""] + group.options.filter { !$0.hidden }.flatMap(entry)
        }
        if !spec.name.isEmpty { page += [".SH \"SEE ALSO\"", "\\fB\(spec.program)\\fR(1)"] }
        return page.joined(separator: "\n") + "\n"
    }

    /// What the install asks a program for, when `words` start with it: `--generate-manual PAGE
    /// DATE` or `--generate-completion-script SHELL` (the text to print); nil for another line.
    /// `program` is built only when one of them is asked for (its help text costs a start).
    package static func requested(by words: ArraySlice<String>, of program: @autoclosure () -> ProgramSpec) throws -> String? {
        guard let first = words.first, first.hasPrefix("--generate-") else { return nil }
        let program = program()
        switch first {
        case "--generate-manual":
            let rest = words.dropFirst()
            guard rest.count == 2, let page = manualPage(rest[rest.startIndex], of: program, date: rest[rest.startIndex + 1]) else {
                throw UsageError("--generate-manual needs a page (\(pageNames(program).joined(separator: ", "))) and a date")
            }
            return page
        case "--generate-completion-script":
            guard words.count == 2, let script = completionScript(words[words.startIndex + 1], of: program) else {
                throw UsageError("--generate-completion-script needs a shell: bash, zsh or fish")
            }
            return script
        default:
            return nil
        }
    }

    /// The completion script of `program` for `shell` (bash, zsh or fish), or nil for another shell.
    package static func completionScript(_ shell: String, of program: ProgramSpec) -> String? {
        switch shell {
        case "bash": return bash(program)
        case "zsh": return zsh(program)
        case "fish": return fish(program)
        default: return nil
        }
    }

    // MARK: man(7)

    private static func entry(_ option: OptionSpec) -> [String] {
        var names = option.short.map { "\\fB\\-\($0)\\fR, " } ?? ""
        names += "\\fB\\-\\-\(roff(option.long))\\fR"
        if let value = option.value { names += " \\fI<\(roff(value))>\\fR" }
        return [".TP", names, roff(option.help)]
    }

    /// Paragraphs of `text`; a line that starts with spaces (a table) is kept as it is written.
    private static func paragraphs(_ text: String) -> [String] {
        var lines: [String] = []
        for block in text.split(separator: "\n\n") {
            if block.split(separator: "\n").contains(where: { $0.hasPrefix(" ") }) {
                lines += [".PP", ".nf"] + block.split(separator: "\n").map { roff(String($0)) } + [".fi"]
            } else {
                lines += [".PP", roff(block.split(separator: "\n").joined(separator: " "))]
            }
        }
        return lines
    }

    /// `text` as roff reads it literally: backslashes and hyphens escaped, no line taken as a request.
    private static func roff(_ text: String) -> String {
        let escaped = text.replacingEvery("\\", with: "\\e").replacingEvery("-", with: "\\-")
        return escaped.hasPrefix(".") || escaped.hasPrefix("'") ? "\\&" + escaped : escaped
    }

    // MARK: completions

    /// The first sentence of `help`, without the characters the shells' syntax gives a meaning.
    private static func summary(_ help: String) -> String {
        var sentence = ""
        for piece in help.split(separator: ". ", omittingEmptySubsequences: false) {
            sentence += sentence.isEmpty ? String(piece) : ". " + piece
            // "e.g. 500ms" goes on: an abbreviation, not the sentence's end.
            if !(piece.hasSuffix("e.g") || piece.hasSuffix("i.e")) { break }
        }
        return String(sentence.filter { !"'\"[]:`$\\".contains($0) })
    }

    private static func visible(_ spec: CommandSpec) -> [OptionSpec] { spec.groups.flatMap(\.options).filter { !$0.hidden } }

    private static func optionWords(_ options: [OptionSpec]) -> [String] {
        options.filter { !$0.hidden }.flatMap { option in ["--\(option.long)"] + (option.short.map { ["-\($0)"] } ?? []) } + ["--help"]
    }

    private static func bash(_ program: ProgramSpec) -> String {
        let function = "_" + program.name.replacingEvery("-", with: "_")
        let commands = program.commands.map(\.name).joined(separator: " ")
        let rootWords = (program.commands.isEmpty ? [] : [commands, "help"]) + optionWords(program.options) + ["--version"]
        var cases = ["        \"\") words=\"\(rootWords.joined(separator: " "))\" ;;"]
        for spec in program.commands {
            cases.append("        \(spec.name)) words=\"\(optionWords(visible(spec)).joined(separator: " "))\" ;;")
        }
        if !program.commands.isEmpty { cases.append("        help) words=\"\(commands)\" ;;") }
        // The root's options that take a value: the word after one is its value, not the command.
        let valued = program.options.filter { $0.value != nil }.map { "--\($0.long)" }
        let skip = valued.isEmpty ? "" : "            \(valued.joined(separator: "|"))) ((i++)) ;;\n"
        return """
        # bash completion for \(program.name) (generated by \(program.name) --generate-completion-script bash)
        \(function)() {
            local cur=${COMP_WORDS[COMP_CWORD]} command="" words="" i
            for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
        \(skip)            -*) ;;
                    *) command=${COMP_WORDS[i]}; break ;;
                esac
            done
            case $command in
        \(cases.joined(separator: "\n"))
            esac
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
            [[ $cur == -* || $command == "" || $command == help ]] || COMPREPLY+=($(compgen -f -- "$cur"))
        }
        complete -F \(function) \(program.name)

        """
    }

    /// zsh's `_arguments` specs of `options`.
    private static func zshArguments(_ options: [OptionSpec]) -> String {
        options.filter { !$0.hidden }.map { option in
            let value = option.value.map { ":\(summary($0)):" } ?? ""
            let help = "'[\(summary(option.help))]\(value)'"
            let repeated = option.repeatable ? "*" : ""
            guard let short = option.short else { return "'\(repeated)--\(option.long)'" + help }
            // Either name, once (or repeated): '(-q --quiet)'{-q,--quiet}'[help]'.
            let exclusion = option.repeatable ? "*" : "'(-\(short) --\(option.long))'"
            return exclusion + "{-\(short),--\(option.long)}" + help
        }.joined(separator: " ")
    }

    private static func zsh(_ program: ProgramSpec) -> String {
        let function = "_" + program.name.replacingEvery("-", with: "_")
        let head = "#compdef \(program.name)\n# zsh completion for \(program.name) (generated by \(program.name) --generate-completion-script zsh)\n"
        guard !program.commands.isEmpty else {
            return head + "\(function)() {\n    _arguments \(zshArguments(program.options)) '--version[Show the version.]'\n}\n\(function) \"$@\"\n"
        }
        let commands = program.commands.map { "'\($0.name):\(summary($0.abstract))'" }.joined(separator: " ")
        let valued = program.options.filter { $0.value != nil }.map { "${words[i]} == --\($0.long)" }
        let skip = valued.isEmpty ? "" : "[[ \(valued.joined(separator: " || ")) ]] && ((i++)); "
        let cases = program.commands.map { spec in
            let positional = spec.arguments.map { " '*:\($0.value):_files'" } ?? ""
            return "        \(spec.name)) _arguments \(zshArguments(visible(spec)))\(positional) ;;"
        }.joined(separator: "\n")
        return head + """
        \(function)() {
            local -a commands
            commands=(\(commands))
            local i=2
            while [[ ${words[i]} == -* ]]; do \(skip)((i++)); done
            if (( CURRENT <= i )); then
                _describe 'command' commands
                return
            fi
            local command=${words[i]}
            shift $((i - 1)) words
            (( CURRENT -= i - 1 ))
            case $command in
        \(cases)
            esac
        }
        \(function) "$@"

        """
    }

    private static func fish(_ program: ProgramSpec) -> String {
        var lines = ["# fish completion for \(program.name) (generated by \(program.name) --generate-completion-script fish)"]
        let names = program.commands.map(\.name).joined(separator: " ")
        let atRoot = program.commands.isEmpty ? "" : " -n 'not __fish_seen_subcommand_from \(names)'"
        func line(_ condition: String, _ option: OptionSpec) -> String {
            let short = option.short.map { " -s \($0)" } ?? ""
            let value = option.value == nil ? "" : " -r"
            return "complete -c \(program.name)\(condition)\(short) -l \(option.long)\(value) -d '\(summary(option.help))'"
        }
        for spec in program.commands {
            lines.append("complete -c \(program.name) -f\(atRoot) -a \(spec.name) -d '\(summary(spec.abstract))'")
        }
        lines += program.options.filter { !$0.hidden }.map { line(atRoot, $0) }
        for spec in program.commands {
            lines += visible(spec).map { line(" -n '__fish_seen_subcommand_from \(spec.name)'", $0) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    /// Every `target` replaced (FoundationEssentials has no replacingOccurrences here).
    fileprivate func replacingEvery(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
