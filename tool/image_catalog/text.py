"""Characters that make text lie: what catalog files may hold, and how text is shown safely.

Control characters can rewrite a terminal line (a newline in a file name forges a "valid" line);
bidi overrides make text read differently from what it holds; zero-width characters make two
different names look alike. Identifiers are plain ASCII (their patterns live in `model.py`); free
text refuses controls and bidi overrides; anything shown to a person goes through `printable`.
Standard library only: the reader (query, show) uses it too.
"""

from __future__ import annotations

# C0 controls and DEL, C1 controls.
_CONTROLS = "\x00-\x1f\x7f-\x9f"
_CONTROLS_BUT_TAB_NEWLINE = "\x00-\x08\x0b-\x1f\x7f-\x9f"
# Arabic letter mark, left-to-right and right-to-left marks, embeddings, overrides and isolates.
BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# Zero-width space, joiners, word joiner, invisible operators, byte-order mark.
INVISIBLE = "\u200b-\u200d\u2060-\u2064\ufeff"

# One line of text (a display name, a reason): no controls at all.
LINE_PATTERN = f"^[^{_CONTROLS}{BIDI}]*$"
# Longer text (a description): tabs and line breaks are fine.
FREE_TEXT_PATTERN = f"^[^{_CONTROLS_BUT_TAB_NEWLINE}{BIDI}]*$"
# A file system path: no controls, bidi or invisible characters, no leading space or '-'.
SAFE_PATH_PATTERN = f"^[^{_CONTROLS}{BIDI}{INVISIBLE}\\s-][^{_CONTROLS}{BIDI}{INVISIBLE}]*$"

_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def printable(text: str) -> str:
    """`text` with every character a terminal would not show as itself written as an escape."""
    if text.isprintable():
        return text
    return "".join(_escape(ch) for ch in text)


def printable_lines(text: str) -> str:
    """`text` made `printable` line by line: its line breaks kept, everything else escaped.

    For a message as a whole (an error, a warning), whose values may come from any file.
    """
    return "\n".join(printable(line) for line in text.split("\n"))


def _escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
