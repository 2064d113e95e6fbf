"""YAML from untrusted files (rule files, configuration, platform tables from a pull request), bounded.

``yaml.safe_load`` constructs no Python objects, but it leaves two doors open:

* aliases: PyYAML shares an aliased node instead of copying it, so the loaded document is small, but everything
  that walks it afterwards (schema validation, error messages, the rule builder) expands the aliases: ten nested
  levels of ten aliases is a 1 KiB file that walks like 10^10 nodes ("billion laughs");
* nesting: the composer recurses once per level, so ``[[[[...]]]]`` ends in a RecursionError (pure Python) or a
  crash of the process (libyaml's composer recurses in C).

``load`` measures the composed document with aliases expanded (memoised per node, so measuring is linear in the
file) and its depth before returning it, refuses alias cycles, and checks the nesting from libyaml's flat event
stream before libyaml composes anything.  Every problem is ``error(message)``: one clear line for the user.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Callable, Dict, List

from .workflow.files import check_numbers

# The package's own YAML files (rules, platform table, known issues, converter notes, snippet templates) as JSON,
# keyed by each file's sha256 (tools/gen_yaml_cache.py): a lint reads them without importing PyYAML (about 15 ms)
# or parsing them (about 25 ms for the rules, 8 ms for the rest).  Only the very text a document was made from uses
# it; an edited file is parsed from its YAML (tests/test_yaml_cache.py checks the shipped cache is current).
SHIPPED_CACHE = "shipped_yaml.json"


def __getattr__(name: str) -> Any:
    """``safe_yaml.YAMLError``: PyYAML's error class, imported when an ``except`` clause asks for it (a lint that
    reads only the shipped files from the cache never imports PyYAML)."""
    if name == "YAMLError":
        import yaml

        return yaml.YAMLError
    raise AttributeError(name)


def text_key(text: str) -> str:
    """The key of a shipped file's text in the cache."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


@lru_cache(maxsize=1)
def _shipped_documents() -> Dict[str, str]:
    from .resources import data_path

    try:
        with open(data_path(SHIPPED_CACHE), encoding="utf-8") as fh:
            cache = json.load(fh)
    except (OSError, ValueError):
        return {}
    return cache.get("documents", {}) if isinstance(cache, dict) and cache.get("format") == 1 else {}


def parse_shipped(text: str) -> Any:
    """A shipped file's document from its YAML, with libyaml (what the cache holds)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


MAX_NODES = 50_000  # YAML nodes with aliases expanded (the largest shipped rule file has a few hundred)
MAX_DEPTH = 40  # nesting levels


def load(
    text: str,
    where: str,
    error: Callable[[str], Exception],
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
    shipped: bool = False,
) -> Any:
    """The document in ``text`` (None when empty).  ``where`` names the file in messages; ``error`` makes the
    exception to raise.  yaml.YAMLError (invalid YAML) passes through for the caller's own message.

    ``shipped``: the package's own data files (rules, platform table), which the test suite loads with the bounds:
    from the cache (each call its own objects), else libyaml straight away, without the event scan and the size
    measurement (a third of rule loading time)."""
    if shipped:
        cached = _shipped_documents().get(text_key(text))
        return json.loads(cached) if cached is not None else parse_shipped(text)
    import yaml

    loader_cls = yaml.SafeLoader
    fast = getattr(yaml, "CSafeLoader", None)
    try:
        if fast is not None:
            # libyaml is ~10x faster than the pure-Python parser, but composes recursively in C: measure the nesting
            # from its event stream (flat) first.
            depth = 0
            try:
                for ev in yaml.parse(text, Loader=fast):
                    if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                        depth += 1
                        if depth > max_depth:
                            raise error(f"{where}: YAML nests more than {max_depth} levels deep; refused")
                    elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                        depth -= 1
            except yaml.MarkedYAMLError as exc:
                # Newer libyaml scans flow collections ahead and stops at its own depth limit before we see the
                # events: judge the nesting from the text up to where it stopped, not from its wording.
                mark = exc.problem_mark
                if mark is not None and _flow_depth(text[: mark.index + 1]) > max_depth:
                    raise error(f"{where}: YAML nests more than {max_depth} levels deep; refused") from None
                raise
            loader_cls = fast
        loader = loader_cls(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            if "&" in text or loader_cls is not fast:  # without anchors there are no aliases: nothing to expand
                check_size(node, where, error, max_nodes, max_depth)
            refuse_duplicate_keys(node, where, error)
            doc = loader.construct_document(node)
            check_numbers(doc, where, error)
            return doc
        finally:
            dispose = getattr(loader, "dispose", None)
            if dispose is not None:
                dispose()
    except RecursionError:
        raise error(f"{where}: YAML nests too deeply (at most {max_depth} levels)") from None
    except (ValueError, OverflowError) as exc:  # a 5000-digit integer, a timestamp with month 13
        from .workflow.files import value_problem

        raise error(f"{where}: {value_problem(text, exc)}") from None


def refuse_duplicate_keys(node: Any, where: str, error: Callable[[str], Exception]) -> None:
    """YAML keeps the last of two equal keys in a mapping, so ``select: [C]`` followed by ``select: [R]`` (or a rule
    case's second ``options:``) would drop the first without a word; TOML refuses such a file.  Walks the composed
    ``node`` (bounded already), each shared (aliased) node once."""
    import yaml

    duplicates = []  # (line of the second, key path, line of the first)
    visited = set()
    stack = [(node, "")]
    while stack:
        n, path = stack.pop()
        if n is None or id(n) in visited:
            continue
        visited.add(id(n))
        if isinstance(n, yaml.SequenceNode):
            stack += [(v, f"{path}[{i}]") for i, v in enumerate(n.value)]
        elif isinstance(n, yaml.MappingNode):
            first: Dict[Any, int] = {}
            for k, v in n.value:
                if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
                    continue
                key = f"{path}.{_key_text(k.value)}" if path else k.value
                line = k.start_mark.line + 1
                if (k.tag, k.value) in first:
                    duplicates.append((line, key, first[(k.tag, k.value)]))
                first.setdefault((k.tag, k.value), line)
                stack.append((v, key))
    if duplicates:
        line, key, first_line = min(duplicates)
        raise error(f"{where}: {key}: given twice (lines {first_line} and {line})")


def _key_text(name: str) -> str:
    """A key as TOML would spell it in a dotted path: bare when it can be, quoted otherwise ("models/*.onnx")."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _flow_depth(text: str) -> int:
    """Deepest flow-collection nesting in ``text``, brackets inside quotes and comments not counted (an estimate
    for text a YAML scanner has already refused, used only to choose the message)."""
    depth = deepest = 0
    quote = ""
    comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def check_size(
    root: Any, where: str, error: Callable[[str], Exception], max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH
) -> None:
    """Expanded node count and depth of a composed YAML node graph, without expanding it (memoised by node)."""
    import yaml

    size: Dict[int, int] = {}
    depth: Dict[int, int] = {}
    on_stack = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_stack.discard(key)
            kids = _children(node, yaml)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > max_nodes:
                raise error(f"{where}: YAML expands to more than {max_nodes} nodes (through aliases?); refused")
            if depth[key] > max_depth:
                raise error(f"{where}: YAML nests more than {max_depth} levels deep; refused")
            continue
        if key in size:
            continue
        if key in on_stack:
            raise error(f"{where}: YAML alias refers to itself (a recursive structure); refused")
        on_stack.add(key)
        stack.append((node, True))
        for k in _children(node, yaml):
            if id(k) not in size:
                stack.append((k, False))
        if len(on_stack) > max_depth * 2 + 2:
            raise error(f"{where}: YAML nests more than {max_depth} levels deep; refused")


def _children(node: Any, yaml: Any) -> List[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    return []
