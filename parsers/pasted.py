"""Lines as people paste them: quoted in e-mail or markdown (`> `), indented as a code block.

What a paste adds in front of a line proves nothing about who wrote the record, and neither
does it show user space wrote it; the line inside is framed as any other, with a doubt.
Deep indentation is another thing: dmesg indents the further lines of a multi-line kernel
message by the width of its prefix (14 columns or more), and such a line is the text of the
message above it, not a record. A code block indents by 4 (8 inside a list), or by tabs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from learn.model import ProblemKind
from parsers.auditd import CONSOLE_DOUBT
from parsers.framing import Framed, Lost, Refused

Frame = Framed | Refused | Lost | None

PASTE_STARTS = (" ", "\t", ">")
_QUOTE = re.compile(r"(?:[ \t]{0,3}>)+[ \t]?")  # nested quoting: `> > `, `>>`
_INDENT = re.compile(r"[ \t]+")
MAX_CODE_INDENT = 8  # columns; dmesg's continuation lines start at 14 or more
_PASTED = "a quoted or indented copy of a line (a paste proves nothing about its writer)"
_CONTINUATION = "an indented record without its own log prefix: a further line of a multi-line kernel message"


def frame_pasted(line: str, framer: Callable[[str], Frame]) -> Frame:
    """Frame the line inside the quoting and indentation of a paste; framer frames bare lines."""
    rest = line
    m = _QUOTE.match(rest)
    if m:
        rest = rest[m.end() :]
    m = _INDENT.match(rest)
    if m:
        if len(m.group().expandtabs(8)) > MAX_CODE_INDENT:
            return framer(line)  # as before: the text of another message, refused if it quotes a record
        rest = rest[m.end() :]
    framed = framer(rest)
    if isinstance(framed, Framed):
        if framed.doubt == CONSOLE_DOUBT and rest is not line and line[:1] in " \t":
            return Refused(ProblemKind.UNTRUSTED, _CONTINUATION)
        return framed._replace(doubt=framed.doubt or _PASTED)
    return framed
