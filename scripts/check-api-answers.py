#!/usr/bin/env python3
"""Holds freezectld's answers to docs/api.yaml: each recorded answer's status code must be
documented for its method and path, and its body must match the documented schema, with no
undocumented field (an object schema lists every property the daemon sends).

Input (stdin): JSON lines {"method", "path", "status", "content_type", "body"}.
Exit status 1 with one line per violation.
"""
import json
import re
import sys

import jsonschema
import yaml


def inline(node, document):
    """The schema with every $ref replaced by what it names (our schemas are not recursive)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return inline(target, document)
        return {key: inline(value, document) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(value, document) for value in node]
    return node


def strict(schema):
    """Objects with listed properties take no others: an undocumented field is a finding."""
    if isinstance(schema, dict):
        schema = {key: strict(value) for key, value in schema.items()}
        if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(value) for value in schema]
    return schema


def operation_for(document, method, path):
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, inline(item[method.lower()], document)
    return None, None


def main():
    document = yaml.safe_load(open(sys.argv[1]))
    problems, checked = [], 0
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = json.loads(line)
        path = answer["path"].split("?")[0]
        template, operation = operation_for(document, answer["method"], path)
        where = f'{answer["method"]} {answer["path"]} -> {answer["status"]}'
        if operation is None:
            problems.append(f"{where}: no such operation in the spec")
            continue
        response = operation["responses"].get(str(answer["status"]))
        if response is None:
            problems.append(f"{where}: status not documented for {template}")
            continue
        content = response.get("content", {})
        media = answer.get("content_type", "").split(";")[0].strip()
        if media not in content:
            problems.append(f"{where}: content type {media!r} not documented (documented: {sorted(content)})")
            continue
        schema = strict(content[media].get("schema", {}))
        bodies = [answer["body"]]
        if media == "application/x-ndjson":
            bodies = [part for part in answer["body"].split("\n") if part.strip()]
        for body in bodies:
            checked += 1
            if media == "text/plain":
                continue
            try:
                jsonschema.validate(json.loads(body), schema)
            except (ValueError, jsonschema.ValidationError) as error:
                message = error.message if isinstance(error, jsonschema.ValidationError) else str(error)
                problems.append(f"{where}: {message} in {body[:300]}")
    for problem in problems:
        print(problem)
    print(f"{checked} bodies checked, {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
