"""What every output format does with names and paths from a model or a repository before printing them.

A node name or file name is attacker-controlled: ``\\n::error ...`` on a line of its own is a GitHub Actions command,
``\\x1b]0;...`` rewrites the terminal, U+202E reorders what a reviewer reads, ``\\x01`` or U+FFFF makes JUnit XML
ill-formed, a lone surrogate (a file name that is not UTF-8) cannot be written.  Such characters are shown as visible
escapes (``\\x1b``, ``\\n``, ``\\u202e``), never passed through.
"""

from __future__ import annotations

import re

# C0 controls but tab, DEL, C1 controls, line/paragraph separators, bidirectional overrides and isolates,
# surrogates (undecodable bytes of a file name), and the noncharacters U+FFFE/U+FFFF that XML forbids.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
# The text reporter's own colour codes (SGR 0, 1, 2, 31, 33, 36): the only escape sequences it ever writes.
_OWN_SGR = re.compile(r"(\x1b\[(?:0|1|2|31|33|36)m)")


def _visible(m: "re.Match[str]") -> str:
    ch = m.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a file name that is not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` with every control, bidi, surrogate and noncharacter shown as an escape: safe on one line of a
    terminal, in a CI log, in XML and in Markdown."""
    return _UNSAFE.sub(_visible, str(text))


# An http(s) URL a Markdown link can hold as its destination (<...>) or as an autolink: nothing that ends one.
PLAIN_URL = re.compile(r"https?://[^\s<>`\\\x00-\x1f\x7f]+")

# The same characters but line breaks, which HTML and XML hold as text (a <pre> block keeps them).
_UNSAFE_IN_MARKUP = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def markup(text: object) -> str:
    """``text`` for HTML or SVG, as text or an attribute value: what ``visible`` escapes shown the same way (a raw
    escape character makes an SVG ill-formed XML; U+202E reorders a name), then the markup characters escaped."""
    from html import escape

    return escape(_UNSAFE_IN_MARKUP.sub(_visible, str(text)))


def terminal(line: str, own_colours: bool = False) -> str:
    """One line for a terminal or CI log.  ``own_colours``: keep the reporter's own colour codes (and nothing that
    merely looks like them more than they do: a name can at most change a colour, never move the cursor)."""
    if not own_colours:
        return visible(line)
    return "".join(part if _OWN_SGR.fullmatch(part) else visible(part) for part in _OWN_SGR.split(line))
