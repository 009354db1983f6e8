#!/usr/bin/env python3
"""The source rules CI checks (docs/architecture.md, "Rules the build checks"):

  1. Every module a target imports is declared in Package.swift: one of its target or product
     dependencies, or the toolchain's own (Foundation, Glibc, ...). A module reached only through
     another target's dependencies compiles today and breaks when that target changes.
  2. docs/architecture.md's module table is the one `swift package describe` gives.
  3. At most 30 `try?` in Sources (fuzz harnesses and the benchmark aside), each with a comment on
     its line or in the three lines above saying why the error cannot matter.
  4. No function, initializer or closure-free body over 60 lines outside generated code.

  python3 scripts/check-source.py            check; exit 1 with each violation on a line
  python3 scripts/check-source.py --write    rewrite the module table in docs/architecture.md

It runs `swift package describe --type json` (which resolves the dependencies once).
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLCHAIN_MODULES = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Glibc", "Musl", "Darwin",
    "Android", "Dispatch", "Synchronization", "Testing", "XCTest", "_Concurrency", "Observation",
    "RegexBuilder", "_StringProcessing", "Distributed", "CxxStdlib",
}
# Code that is generated (protoc's output) or that the rules name as exempt.
GENERATED = ("Sources/ContainerdAPI/",)
TRY_EXEMPT = ("Sources/FuzzHarnesses/", "Sources/freezectl-bench/", "Sources/freezectl-fuzz/")
TRY_LIMIT = 30
FUNCTION_LIMIT = 60
TABLE_BEGIN = "<!-- modules:begin (written by scripts/check-source.py --write) -->"
TABLE_END = "<!-- modules:end -->"


def describe():
    out = subprocess.run(["swift", "package", "describe", "--type", "json"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    # Resolution may print progress before the JSON.
    return json.loads(out[out.index("{"):])


def swift_files(target):
    for source in target.get("sources", []):
        if source.endswith(".swift"):
            yield os.path.join(target["path"], source)


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+|@_implementationOnly\s+|package\s+|public\s+|internal\s+)*import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)


def check_imports(package):
    problems = []
    for target in package["targets"]:
        declared = set(target.get("target_dependencies", [])) | set(target.get("product_dependencies", []))
        declared.add(target["c99name"])
        for path in swift_files(target):
            for module in IMPORT.findall(strip_code(read(path))):
                if module not in declared and module not in TOOLCHAIN_MODULES:
                    problems.append(f"{path}: imports {module}, which Package.swift does not declare for {target['name']} (add it to the target's dependencies)")
    return problems


def module_table(package):
    ours = {t["name"]: t for t in package["targets"]}
    lines = [TABLE_BEGIN, "", "| module | kind | depends on (ours) | packages' products |", "|---|---|---|---|"]
    for name in sorted(ours, key=lambda n: (ours[n]["type"] == "test", ours[n]["type"] != "library", n.lower())):
        t = ours[name]
        lines.append("| %s | %s | %s | %s |" % (name, t["type"], ", ".join(sorted(t.get("target_dependencies", []))) or "-",
                                                 ", ".join(sorted(t.get("product_dependencies", []))) or "-"))
    lines += ["", TABLE_END]
    return lines


def check_table(package, write):
    path = "docs/architecture.md"
    text = read(path)
    want = "\n".join(module_table(package))
    if TABLE_BEGIN not in text or TABLE_END not in text:
        return [f"{path}: no module table between '{TABLE_BEGIN}' and '{TABLE_END}'"]
    start = text.index(TABLE_BEGIN)
    end = text.index(TABLE_END) + len(TABLE_END)
    if text[start:end] == want:
        return []
    if write:
        with open(os.path.join(ROOT, path), "w", encoding="utf-8") as f:
            f.write(text[:start] + want + text[end:])
        print(f"wrote the module table of {path}")
        return []
    return [f"{path}: the module table differs from `swift package describe` (run python3 scripts/check-source.py --write)"]


def strip_code(text):
    """The text with string literals and comments blanked (newlines kept), for counting braces."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (min(j + 1, n) - i)); i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i)); i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j])); i = j
        else:
            out.append(text[i]); i += 1
    return "".join(out)


DECLARATION = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|private|fileprivate|internal|open|static|class|final|override|mutating|nonisolated|convenience|required|async)\s+)*(func\s+[^\s(<]+|init[?!]?|deinit|subscript)\b")


def check_lengths(package):
    problems = []
    for target in package["targets"]:
        for path in swift_files(target):
            if path.startswith(GENERATED):
                continue
            code = strip_code(read(path)).split("\n")
            for number, line in enumerate(code):
                match = DECLARATION.match(line)
                if not match:
                    continue
                # The body: from the first "{" at or after the declaration to its match.
                depth, opened, end = 0, None, None
                for k in range(number, len(code)):
                    # A requirement of a protocol has no body: the next declaration, a blank line
                    # or a closing brace comes before any "{".
                    if k > number and opened is None and (DECLARATION.match(code[k]) or not code[k].strip()
                                                          or code[k].strip().startswith(("}", "var ", "let ", "case "))):
                        break
                    for ch in code[k]:
                        if ch == "{":
                            depth += 1
                            opened = k if opened is None else opened
                        elif ch == "}" and opened is not None:
                            depth -= 1
                            if depth == 0:
                                end = k
                                break
                    if end is not None:
                        break
                if opened is None or end is None:
                    continue  # a protocol requirement: no body
                length = end - number + 1
                if length > FUNCTION_LIMIT:
                    problems.append(f"{path}:{number + 1}: {match.group(1)} is {length} lines (at most {FUNCTION_LIMIT}): split it")
    return problems


TRY = re.compile(r"\btry\?")


def check_try(package):
    problems, count = [], 0
    for target in package["targets"]:
        if target["type"] == "test":
            continue
        for path in swift_files(target):
            if path.startswith(TRY_EXEMPT):
                continue
            lines = read(path).split("\n")
            for number, line in enumerate(lines):
                if not TRY.search(line):
                    continue
                count += len(TRY.findall(line))
                context = lines[max(0, number - 3):number + 1]
                if not any("//" in l for l in context):
                    problems.append(f"{path}:{number + 1}: try? without a comment saying why its error cannot matter")
    if count > TRY_LIMIT:
        problems.append(f"Sources: {count} try? (at most {TRY_LIMIT}): report the errors that matter")
    return problems


def main():
    write = "--write" in sys.argv[1:]
    package = describe()
    problems = check_imports(package) + check_table(package, write) + check_try(package) + check_lengths(package)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-source: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check-source: imports declared, module table current, try? counted and explained, functions short")
    return 0


if __name__ == "__main__":
    sys.exit(main())
