"""Glob matching in linear time, for the path and node globs of a configuration from a pull request.

A glob translated to a backtracking regular expression takes exponential time on patterns like ``*a*a*a...*b``
(14 stars against a 60-character name ran for minutes).  Here a glob is a list of tokens and is matched by walking
the set of positions it can be at, one character at a time (a Thompson NFA): time is at most the pattern's length
times the text's, whatever the pattern.

Syntax: ``*`` (any run of characters; inside one path segment for path globs), ``?`` (one character; not ``/`` in
path globs), ``[abc]``, ``[a-z]``, ``[!a-z]`` (one character of a set; ``]`` first in the set is literal), ``**``
(any run, across ``/``), ``**/`` (nothing, or any run ending in ``/``).  A ``[`` without its ``]`` is literal.
Invalid globs (a reversed range such as ``[z-a]``) raise :class:`GlobError` when compiled, so the configuration
that holds one reports it with the file and key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import FrozenSet, List, Optional, Tuple

# token kinds
_LIT, _ONE, _SET, _STAR, _ANY, _OPT = range(6)
MAX_GLOB = 1000  # characters in one glob


class GlobError(ValueError):
    """A glob that cannot be compiled (the message says why, without the file: the caller adds it)."""


Token = Tuple[int, object]


class Glob:
    """A compiled glob.  ``path``: ``*`` and ``?`` stop at ``/`` (path globs); otherwise they match anything."""

    def __init__(self, tokens: List[Token], path: bool):
        self.tokens = tokens
        self.path = path

    def _closure(self, states: set) -> FrozenSet[int]:
        """``states`` plus everything reachable without reading a character."""
        todo = list(states)
        seen = set(states)
        while todo:
            i = todo.pop()
            if i >= len(self.tokens):
                continue
            kind, arg = self.tokens[i]
            nxt = []
            if kind in (_STAR, _ANY):
                nxt.append(i + 1)
            elif kind == _OPT:  # enter the optional group, or jump over it
                nxt += [i + 1, i + 1 + arg]
            for j in nxt:
                if j not in seen:
                    seen.add(j)
                    todo.append(j)
        return frozenset(seen)

    def match(self, text: str) -> bool:
        end = len(self.tokens)
        states = self._closure({0})
        for ch in text:
            step = set()
            for i in states:
                if i >= end:
                    continue
                kind, arg = self.tokens[i]
                if kind == _LIT:
                    if ch == arg:
                        step.add(i + 1)
                elif kind == _ONE:
                    if not (self.path and ch == "/"):
                        step.add(i + 1)
                elif kind == _SET:
                    negate, chars, ranges = arg
                    hit = ch in chars or any(lo <= ch <= hi for lo, hi in ranges)
                    if hit != negate and not (self.path and ch == "/"):
                        step.add(i + 1)
                elif kind == _STAR:
                    if not (self.path and ch == "/"):
                        step.add(i)
                elif kind == _ANY:
                    step.add(i)
            if not step:
                return False
            states = self._closure(step)
        return end in states


def _parse_set(pat: str, i: int) -> Tuple[Optional[Token], int]:
    """The ``[...]`` starting at ``pat[i]``: its token and the index after it, or (None, i) when unclosed."""
    j = i + 1
    negate = j < len(pat) and pat[j] == "!"
    if negate:
        j += 1
    start = j
    if j < len(pat) and pat[j] == "]":
        j += 1  # a leading ] is a member
    close = pat.find("]", j)
    if close < 0:
        return None, i
    body = pat[start:close]
    chars, ranges = set(), []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            lo, hi = body[k], body[k + 2]
            if lo > hi:
                raise GlobError(f"reversed character range [{lo}-{hi}]")
            ranges.append((lo, hi))
            k += 3
        else:
            chars.add(body[k])
            k += 1
    return (_SET, (negate, frozenset(chars), tuple(ranges))), close + 1


def _tokens(pat: str, path: bool) -> List[Token]:
    out: List[Token] = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if path and pat.startswith("**/", i):
            out += [(_OPT, 2), (_ANY, None), (_LIT, "/")]
            i += 3
        elif pat.startswith("**", i):
            out.append((_ANY, None))
            i += 2
        elif c == "*":
            star = (_STAR, None) if path else (_ANY, None)
            if not out or out[-1] != star:  # a run of stars is one star
                out.append(star)
            i += 1
        elif c == "?":
            out.append((_ONE, None))
            i += 1
        elif c == "[":
            token, after = _parse_set(pat, i)
            if token is None:
                out.append((_LIT, c))
                i += 1
            else:
                out.append(token)
                i = after
        else:
            out.append((_LIT, c))
            i += 1
    return out


@lru_cache(maxsize=1024)
def compile_path_glob(pattern: str) -> Glob:
    """A path glob, matched against a path relative to the project root with ``/`` separators.  A pattern without
    ``/`` matches the file name in any directory (as in .gitignore); a trailing ``/`` matches everything below."""
    if len(pattern) > MAX_GLOB:
        raise GlobError(f"glob longer than {MAX_GLOB} characters")
    pat = pattern.replace("\\", "/")
    if pat.startswith("./"):
        pat = pat[2:]
    anchored = "/" in pat.rstrip("/")  # "models/*.onnx" and "/a.onnx" are relative to the root
    pat = pat.lstrip("/")
    tokens = _tokens(pat, path=True)
    if pat.endswith("/"):  # a directory: everything below it
        tokens.append((_ANY, None))
    if not anchored:
        tokens = [(_OPT, 2), (_ANY, None), (_LIT, "/")] + tokens
    return Glob(tokens, path=True)


@lru_cache(maxsize=1024)
def compile_name_glob(pattern: str) -> Glob:
    """A glob over a whole name (node names): ``*`` matches ``/`` too (exporters put scopes in node names)."""
    if len(pattern) > MAX_GLOB:
        raise GlobError(f"glob longer than {MAX_GLOB} characters")
    return Glob(_tokens(pattern, path=False), path=False)
