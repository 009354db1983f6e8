import CgroupFreezer

/// The man pages and shell completions of freezectl, made from the same specs the parser reads
/// (CommandSyntax.swift), so that they cannot drift from it. scripts/install.sh and the .deb
/// ask the installed binary for them:
///
///     freezectl --generate-manual freezectl.pause 2026-12-07   one page (man(7) macros)
///     freezectl --generate-completion-script bash|zsh|fish
package enum CommandDocs {
    /// The page names: `freezectl`, then `freezectl.COMMAND` for each command.
    package static var pageNames: [String] { ["freezectl"] + Freezectl.commands.map { "freezectl.\($0.name)" } }

    /// The page `name` (one of `pageNames`) dated `date`, or nil for an unknown name.
    package static func manualPage(_ name: String, date: String) -> String? {
        let title = "\(name.uppercased()) 1 \"\(date)\" \"freezectl \(BuildInfo.version)\" \"General Commands Manual\""
        if name == "freezectl" {
            var page = [".TH \(title)", ".SH NAME", "freezectl \\- \(roff(Freezectl.abstract))", ".SH SYNOPSIS",
                        ".B freezectl", "[<options>] <command>", ".SH DESCRIPTION"]
            page += paragraphs(Freezectl.discussion)
            page += [".SH OPTIONS"] + Freezectl.options.flatMap(entry)
            page += [".SH COMMANDS"] + Freezectl.commands.flatMap { [".TP", "\\fB\($0.name)\\fR", roff($0.abstract)] }
            page += [".SH \"SEE ALSO\"", Freezectl.commands.map { "\\fBfreezectl.\($0.name)\\fR(1)" }.joined(separator: ", ")]
            return page.joined(separator: "\n") + "\n"
        }
        guard let spec = Freezectl.commands.first(where: { "freezectl.\($0.name)" == name }) else { return nil }
        var page = [".TH \(title)", ".SH NAME", "\(name) \\- \(roff(spec.abstract))", ".SH SYNOPSIS",
                    ".B freezectl \(spec.name)", roff(String(CommandHelp.usage(for: spec).dropFirst("freezectl \(spec.name) ".count))),
                    ".SH DESCRIPTION"]
        page += paragraphs(spec.discussion)
        if let arguments = spec.arguments {
            page += [".SH ARGUMENTS", ".TP", "\\fI<\(arguments.value)>\\fR", roff(arguments.help)]
        }
        for group in spec.groups where !group.options.isEmpty {
            page += [".SH \"\((group.title ?? "Options").uppercased())\""] + group.options.flatMap(entry)
        }
        page += [".SH \"SEE ALSO\"", "\\fBfreezectl\\fR(1)"]
        return page.joined(separator: "\n") + "\n"
    }

    /// The completion script for `shell` (bash, zsh or fish), or nil for another shell.
    package static func completionScript(_ shell: String) -> String? {
        switch shell {
        case "bash": return bash()
        case "zsh": return zsh()
        case "fish": return fish()
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

    private static func optionWords(_ options: [OptionSpec]) -> [String] {
        options.flatMap { option in ["--\(option.long)"] + (option.short.map { ["-\($0)"] } ?? []) } + ["--help"]
    }

    private static func bash() -> String {
        var cases = ["        \"\") words=\"\(Freezectl.commands.map(\.name).joined(separator: " ")) help \(optionWords(Freezectl.options).joined(separator: " ")) --version\" ;;"]
        for spec in Freezectl.commands {
            cases.append("        \(spec.name)) words=\"\(optionWords(spec.groups.flatMap(\.options)).joined(separator: " "))\" ;;")
        }
        return """
        # bash completion for freezectl (generated by freezectl --generate-completion-script bash)
        _freezectl() {
            local cur=${COMP_WORDS[COMP_CWORD]} command="" words="" i
            for ((i = 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                    --host) ((i++)) ;;
                    -*) ;;
                    *) command=${COMP_WORDS[i]}; break ;;
                esac
            done
            case $command in
        \(cases.joined(separator: "\n"))
                help) words="\(Freezectl.commands.map(\.name).joined(separator: " "))" ;;
            esac
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
            [[ $cur == -* || $command == "" || $command == help ]] || COMPREPLY+=($(compgen -f -- "$cur"))
        }
        complete -F _freezectl freezectl

        """
    }

    private static func zsh() -> String {
        func arguments(_ options: [OptionSpec]) -> String {
            options.map { option in
                let value = option.value.map { ":\(summary($0)):" } ?? ""
                let help = "'[\(summary(option.help))]\(value)'"
                let repeated = option.repeatable ? "*" : ""
                guard let short = option.short else { return "'\(repeated)--\(option.long)'" + help }
                // Either name, once (or repeated): '(-q --quiet)'{-q,--quiet}'[help]'.
                let exclusion = option.repeatable ? "*" : "'(-\(short) --\(option.long))'"
                return exclusion + "{-\(short),--\(option.long)}" + help
            }.joined(separator: " ")
        }
        let commands = Freezectl.commands.map { "'\($0.name):\(summary($0.abstract))'" }.joined(separator: " ")
        let cases = Freezectl.commands.map { spec in
            let positional = spec.arguments.map { " '*:\($0.value):_files'" } ?? ""
            return "        \(spec.name)) _arguments \(arguments(spec.groups.flatMap(\.options)))\(positional) ;;"
        }.joined(separator: "\n")
        return """
        #compdef freezectl
        # zsh completion for freezectl (generated by freezectl --generate-completion-script zsh)
        _freezectl() {
            local -a commands
            commands=(\(commands))
            local i=2
            while [[ ${words[i]} == -* ]]; do [[ ${words[i]} == --host ]] && ((i++)); ((i++)); done
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
        _freezectl "$@"

        """
    }

    private static func fish() -> String {
        var lines = ["# fish completion for freezectl (generated by freezectl --generate-completion-script fish)"]
        let names = Freezectl.commands.map(\.name).joined(separator: " ")
        for spec in Freezectl.commands {
            lines.append("complete -c freezectl -f -n 'not __fish_seen_subcommand_from \(names)' -a \(spec.name) -d '\(summary(spec.abstract))'")
        }
        for option in Freezectl.options {
            lines.append("complete -c freezectl -n 'not __fish_seen_subcommand_from \(names)' -l \(option.long) -r -d '\(summary(option.help))'")
        }
        for spec in Freezectl.commands {
            for option in spec.groups.flatMap(\.options) {
                let short = option.short.map { " -s \($0)" } ?? ""
                let value = option.value == nil ? "" : " -r"
                lines.append("complete -c freezectl -n '__fish_seen_subcommand_from \(spec.name)'\(short) -l \(option.long)\(value) -d '\(summary(option.help))'")
            }
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
