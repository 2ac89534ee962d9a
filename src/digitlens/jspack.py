"""A small packer: the page's ES modules as one classic-scope script, for the single-file
explorer. Chromium does not load module files from ``file://``, but an inline script runs
anywhere; each module becomes a function scope returning its exports, in dependency order.

It understands the subset of module syntax the page's modules use, and refuses the rest
rather than pack it wrongly: ``import { a, b as c } from "./x.js";``, ``export`` in front of a
``function``/``class``/``const``/``let`` declaration (one name per statement) and
``export { a, b as c };``.
"""

from __future__ import annotations

import re
from pathlib import Path

from digitlens.errors import DigitlensError

IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"\./([\w-]+\.js)";[ \t]*$', re.M)
ANY_IMPORT = re.compile(r"^\s*import\b", re.M)
DECL = re.compile(r"^export\s+((?:async\s+)?function\*?|class|const|let)\s+([\w$]+)", re.M)
LIST = re.compile(r"^export\s*\{([^}]*)\};?[ \t]*$", re.M)
MULTI = re.compile(r"^export\s+(?:const|let)\s[^;\n]*?,\s*[\w$]+\s*=[^=>]", re.M)


class PackError(DigitlensError):
    """A module uses syntax the packer does not handle."""


def var(stem: str) -> str:
    return "__m_" + re.sub(r"\W", "_", stem)


def pairs(text: str) -> list[tuple[str, str]]:
    """``a, b as c`` -> [(a, a), (b, c)]: (name inside, name outside)."""
    out = []
    for item in (p.strip() for p in text.split(",")):
        if item:
            inner, _, outer = item.partition(" as ")
            out.append((inner.strip(), (outer or inner).strip()))
    return out


def wrap(path: Path) -> tuple[str, list[str]]:
    """One module as ``const __m_x = (() => { ... return {exports}; })();`` and the files
    it imports."""
    text = path.read_text(encoding="utf-8")
    if MULTI.search(text):
        raise PackError(f"{path.name}: one name per exported declaration, please")
    deps, lines = [], []
    for m in IMPORT.finditer(text):
        deps.append(m.group(2))
        names = ", ".join(i if i == o else f"{i}: {o}" for i, o in pairs(m.group(1)))
        lines.append((m.start(), m.end(), f"const {{ {names} }} = {var(Path(m.group(2)).stem)};"))
    for start, end, new in reversed(lines):
        text = text[:start] + new + text[end:]
    if ANY_IMPORT.search(text):
        raise PackError(f"{path.name}: only `import {{ ... }} from \"./x.js\";` is packed")
    exports = [(name, name) for _, name in DECL.findall(text)]
    exports += [p for m in LIST.finditer(text) for p in pairs(m.group(1))]
    text = LIST.sub("", DECL.sub(lambda m: f"{m.group(1)} {m.group(2)}", text))
    if re.search(r"^export\b", text, re.M):
        raise PackError(f"{path.name}: an export form the packer does not handle")
    body = ", ".join(o if i == o else f"{o}: {i}" for i, o in exports)
    return (f"const {var(path.stem)} = (() => {{\n{text}\nreturn {{ {body} }};\n}})();\n",
            deps)


def pack(entry: Path) -> str:
    """The entry module and everything it imports, dependencies first, as one script."""
    done: dict[str, str] = {}
    visiting: set[str] = set()

    def visit(path: Path) -> None:
        if path.name in done:
            return
        if path.name in visiting:
            raise PackError(f"{path.name}: circular import")
        visiting.add(path.name)
        code, deps = wrap(path)
        for dep in deps:
            visit(path.with_name(dep))
        done[path.name] = f"// ---- {path.name}\n{code}"
        visiting.discard(path.name)

    visit(entry)
    return "".join(done.values()).replace("</script", "<\\/script")
