"""The YAML a Kubernetes manifest of a SeccompProfile uses, read without a YAML library.

Block mappings and sequences (a sequence may sit at its key's indentation, as kubectl writes
it), `- key: value` items, plain, single- and double-quoted scalars, `[]`/`{}` and flow lists of
scalars, `#` comments and `---` between documents. Anchors, tags, multi-line scalars and flow
mappings with content are refused, not guessed at. Nesting deeper than MAX_DEPTH is refused
too: a SeccompProfile is five levels deep, and a hostile file must not exhaust the stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

from learn.errors import ProfileError

_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:-]*")
_MAP_ITEM = re.compile(r"[^'\"\[{\s][^:]*:( |$)")
MAX_DEPTH = 32


class _Line:
    def __init__(self, number: int, indent: int, text: str) -> None:
        self.number, self.indent, self.text = number, indent, text


def _strip_comment(line: str) -> str:
    if "#" not in line:
        return line.rstrip()
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'" and (i == 0 or line[i - 1] in " :-[,"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def scalar(text: str, where: str) -> Any:
    text = text.strip()
    if text.startswith('"'):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ProfileError(f"{where}: bad double-quoted string {text}") from e
    if text.startswith("'"):
        if len(text) < 2 or not text.endswith("'"):
            raise ProfileError(f"{where}: bad single-quoted string {text}")
        return text[1:-1].replace("''", "'")
    if text in ("[]", "{}"):
        return [] if text == "[]" else {}
    if text.startswith("[") and text.endswith("]"):
        parts = [part for part in text[1:-1].split(",") if part.strip()]
        if any(part.strip()[:1] in ("[", "{") for part in parts):
            raise ProfileError(f"{where}: nested flow collections are not supported here")
        return [scalar(part, where) for part in parts]
    if text[:1] in "&*!|>{[@`%":
        raise ProfileError(f"{where}: YAML feature {text[:1]!r} is not supported here")
    if _INT.fullmatch(text):
        return int(text)
    return {"true": True, "false": False, "null": None, "~": None, "": None}.get(text, text)


def _key(text: str, where: str) -> tuple[str, str]:
    key, sep, rest = text.partition(":")
    if not sep or (rest and not rest.startswith(" ")):
        raise ProfileError(f"{where}: expected `key: value`, got {text!r}")
    return str(scalar(key, where)), rest.strip()


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


class _Parser:
    def __init__(self, lines: list[_Line], source: str) -> None:
        self.lines, self.source, self.pos, self.depth = lines, source, 0, 0

    def where(self, line: _Line) -> str:
        return f"{self.source}:{line.number}"

    def block(self, indent: int) -> Any:
        line = self.lines[self.pos]
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ProfileError(f"{self.where(line)}: nested deeper than {MAX_DEPTH} levels; no SeccompProfile is")
        try:
            return self.sequence(line.indent) if _is_item(line.text) else self.mapping(line.indent)
        finally:
            self.depth -= 1

    def sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.indent != indent or not _is_item(line.text):
                break
            rest = line.text[1:].strip()
            if not rest:
                self.pos += 1
                items.append(self.nested(indent, line))
            elif _MAP_ITEM.match(rest):
                # `- key: value` opens a mapping whose keys line up after the dash.
                self.lines[self.pos] = _Line(line.number, indent + line.text.index(rest), rest)
                items.append(self.mapping(self.lines[self.pos].indent))
            else:
                self.pos += 1
                items.append(scalar(rest, self.where(line)))
        return items

    def mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.indent != indent or _is_item(line.text):
                if line.indent > indent:
                    raise ProfileError(f"{self.where(line)}: unexpected indentation")
                break
            key, rest = _key(line.text, self.where(line))
            self.pos += 1
            out[key] = scalar(rest, self.where(line)) if rest else self.nested(indent, line)
        return out

    def nested(self, indent: int, parent: _Line) -> Any:
        if self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        if line.indent > indent or (line.indent == indent and _is_item(line.text) and not _is_item(parent.text)):
            return self.block(line.indent)
        return None


def load_all(text: str, source: str) -> list[Any]:
    """Every document of a multi-document stream, as dicts, lists and scalars."""
    docs: list[list[_Line]] = [[]]
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ProfileError(f"{source}:{number}: tabs cannot indent YAML")
        if raw.rstrip() in ("---", "..."):
            docs.append([])
            continue
        line = _strip_comment(raw)
        if line.strip():
            docs[-1].append(_Line(number, len(line) - len(line.lstrip()), line.strip()))
    out = []
    for lines in docs:
        if not lines:
            continue
        parser = _Parser(lines, source)
        value = parser.block(lines[0].indent)
        if parser.pos < len(lines):
            raise ProfileError(f"{parser.where(lines[parser.pos])}: cannot parse this line")
        out.append(value)
    return out


def dump_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain = _PLAIN.fullmatch(text) and scalar(text, "") == text
    return text if plain else json.dumps(text)
