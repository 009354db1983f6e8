"""The one writer of a script's section in a doc: the text between `<!-- NAME:begin` and
`<!-- NAME:end -->` is replaced (or the section appended), so that figures written by a script
never mix with hand-written prose. Used by fuzz.sh and soak.py."""
import os
import re


def replace_section(path, name, writer, lines):
    """Writes `lines` (without the markers) as the `name` section of `path`, saying `writer` wrote it."""
    section = "\n".join(["<!-- %s:begin (written by %s) -->" % (name, writer), *lines, "<!-- %s:end -->" % name])
    text = open(path).read() if os.path.exists(path) else ""
    pattern = _pattern(name)
    if re.search(pattern, text, flags=re.S):
        text = re.sub(pattern, lambda _: section, text, flags=re.S)
    else:
        text += "\n" + section + "\n"
    open(path, "w").write(text)


def section_lines(path, name):
    """The lines of the `name` section of `path` (without the markers), or [] when it has none."""
    text = open(path).read() if os.path.exists(path) else ""
    match = re.search(_pattern(name), text, flags=re.S)
    return match.group(1).splitlines() if match else []


def _pattern(name):
    """The section with its markers; group 1 is the text between the begin line and the end marker."""
    return r"<!-- %s:begin[^\n]*\n(.*?)<!-- %s:end -->" % (name, name)
