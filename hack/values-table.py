#!/usr/bin/env python3
"""Prints the chart's values as a Markdown table (key, default, description), from
charts/accord/values.yaml and the comments above each key. `--check FILE` fails when the
table between the markers in FILE differs (hack/chart-check.sh runs it)."""
import re
import sys
from pathlib import Path

BEGIN, END = "<!-- values-table:begin -->", "<!-- values-table:end -->"


def table(values: Path) -> str:
    rows, comments, path = [], [], []
    for line in values.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            comments = []
            continue
        if stripped.startswith("#"):
            comments.append(stripped.lstrip("#").strip())
            continue
        m = re.match(r"^( *)([A-Za-z0-9_.-]+):(.*)$", line)
        if not m:
            continue
        indent, key, rest = len(m.group(1)) // 2, m.group(2), m.group(3)
        path = path[:indent] + [key]
        value, inline = rest, ""
        if "#" in rest:
            value, inline = rest.split("#", 1)
        value = value.strip()
        description = " ".join(c for c in comments + [inline.strip()] if c)
        comments = []
        if value == "":
            if description:
                rows.append((".".join(path), "", description))
            continue
        rows.append((".".join(path), value, description))
    out = ["| key | default | description |", "| --- | --- | --- |"]
    for key, value, description in rows:
        shown = f"`{value}`" if value else ""
        escaped = description.replace("|", "\\|")
        out.append(f"| `{key}` | {shown} | {escaped} |")
    return "\n".join(out) + "\n"


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    generated = table(root / "charts/accord/values.yaml")
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        text = Path(sys.argv[2]).read_text()
        current = text.split(BEGIN, 1)[1].split(END, 1)[0].strip() + "\n"
        if current != generated:
            print(f"{sys.argv[2]}: the values table is stale: run hack/values-table.py --write {sys.argv[2]}", file=sys.stderr)
            return 1
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        target = Path(sys.argv[2])
        text = target.read_text()
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        target.write_text(f"{head}{BEGIN}\n{generated}{END}{tail}")
        return 0
    sys.stdout.write(generated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
