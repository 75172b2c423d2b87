#!/usr/bin/env python3
"""Checks the layers inside each crate: a module may use only the modules its crate
root declares before it. The crate borders are enforced by Cargo (a crate can only use
the crates it depends on); this covers what stays inside a crate.

Each crate's lib.rs declares its modules in layers, bottom first: a run of `mod` lines
is one layer, and a blank or comment line starts the next. A module's non-test code
(everything but `#[cfg(test)]` items, `tests.rs` and `*_tests.rs` files and the
`testing` fixtures module) may use only modules of lower layers: `crate::m`, `super::m`
from a top-level module, or a name lib.rs re-exports from m (`pub use m::{Name}`).
Modules of one layer may not use each other, so there is no cycle either.

Usage: hack/check-layers.py [CRATE_DIR ...]   (default: every crates/*)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
EXEMPT = {"testing"}


def layers(lib: pathlib.Path) -> dict[str, int]:
    """Each declared module's layer: runs of `mod` lines, separated by other lines."""
    rank, layer, in_run = {}, 0, False
    for line in strip_tests(lib.read_text()).splitlines():
        m = MOD_DECL.match(line)
        if m and m.group(1) not in EXEMPT:
            rank[m.group(1)] = layer
            in_run = True
        elif in_run:
            layer, in_run = layer + 1, False
    return rank


def reexports(lib: pathlib.Path) -> dict[str, str]:
    """Names the crate root re-exports, by the module they come from."""
    names = {}
    for module, group in re.findall(r"pub use (\w+)::\{([^}]*)\};", lib.read_text()):
        for name in re.findall(r"\w+", group):
            names[name] = module
    for module, name in re.findall(r"pub use (\w+)::(\w+);", lib.read_text()):
        names[name] = module
    return names


def strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def strip_tests(text: str) -> str:
    """The text without `#[cfg(test)]` items (a mod block or a single declaration)."""
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\((?:test|any\(test[^)]*\))\)\]\s*", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        j = m.end()
        # skip one item: up to the matching brace, or to the next `;` if none opens first
        brace, semi = text.find("{", j), text.find(";", j)
        if semi != -1 and (brace == -1 or semi < brace):
            i = semi + 1
            continue
        depth, k = 0, brace
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        i = k + 1
    out.append(text[i:])
    return "".join(out)


def top_module(src: pathlib.Path, path: pathlib.Path) -> str | None:
    rel = path.relative_to(src).parts
    if rel[0] in ("lib.rs", "main.rs", "bin"):
        return None
    return rel[0][:-3] if rel[0].endswith(".rs") else rel[0]


def used_modules(text: str, at_top: bool, names: dict[str, str]) -> set[str]:
    used = set(re.findall(r"\bcrate::(\w+)", text))
    for group in re.findall(r"\bcrate::\{([^;]*?)\};", text, re.S):
        used |= set(re.findall(r"(?:^|[,{]\s*)(\w+)", group))
    if at_top:  # `super::x` from a top-level module file names a sibling
        used |= set(re.findall(r"\bsuper::(\w+)", text))
        for group in re.findall(r"\bsuper::\{([^;]*?)\};", text, re.S):
            used |= set(re.findall(r"(?:^|[,{]\s*)(\w+)", group))
    return {names.get(u, u) for u in used}


def check(crate: pathlib.Path) -> list[str]:
    src = crate / "src"
    rank = layers(src / "lib.rs")
    names = reexports(src / "lib.rs")
    problems = []
    for path in sorted(src.rglob("*.rs")):
        module = top_module(src, path)
        if module is None or module in EXEMPT or module not in rank:
            continue
        if path.name == "tests.rs" or path.name.endswith("_tests.rs"):
            continue
        at_top = path.parent == src or path.name == "mod.rs" and path.parent.parent == src
        text = strip_comments(strip_tests(path.read_text()))
        for used in sorted(used_modules(text, at_top, names)):
            if used in rank and used != module and rank[used] >= rank[module]:
                where = "in its own layer" if rank[used] == rank[module] else "a layer above"
                problems.append(
                    f"{path.relative_to(ROOT)}: module `{module}` uses `{used}`, "
                    f"{where} in {crate.name}/src/lib.rs"
                )
    return problems


def main() -> int:
    crates = [pathlib.Path(a).resolve() for a in sys.argv[1:]] or sorted(
        p for p in (ROOT / "crates").iterdir() if (p / "src" / "lib.rs").exists()
    )
    problems = [p for crate in crates for p in check(crate)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} upward import(s): move the shared piece down a layer, "
            "or reorder the `mod` declarations if the layering itself changed",
            file=sys.stderr,
        )
        return 1
    print(f"layers hold in {', '.join(c.name for c in crates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
