"""Configuration files: discovery, validation against a JSON schema, and mapping onto :class:`~precision_lint.api.Options`.

Where: ``.precision-lint.yaml`` (or ``.yml``) or the ``[tool.precision-lint]`` table of ``pyproject.toml``, in the
working directory or the nearest parent that has one (the dotfile wins within one directory).  ``--config FILE``
names the file instead; ``--isolated`` ignores configuration.  Keys are snake_case (``fail_level``); the kebab-case
spelling (``fail-level``) is accepted too.  Relative paths in a config file (``rule_dirs``, ``baseline``, path
globs) are relative to the file's directory, the project root.

Every problem is one line naming the file and the key: ``pyproject.toml: tool.precision-lint.select: ...``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import ConfigError
from ..resources import data_path

DOTFILES = (".precision-lint.yaml", ".precision-lint.yml")
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "precision-lint"
MAX_CONFIG_BYTES = 1 << 20
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass
class Config:
    path: str  # as displayed in messages: relative to the working directory when inside it
    data: Dict[str, Any]  # validated, keys in snake_case
    key_prefix: str  # "tool.precision-lint." in pyproject.toml, "" in a dedicated file
    root: str  # absolute directory that relative paths and globs refer to
    spelled: Dict[str, str]  # snake_case key -> spelling used in the file

    def where(self, key: str) -> str:
        head, sep, rest = key.partition(".")
        head, bracket, tail = head.partition("[")
        name = self.spelled.get(head, head) + bracket + tail + sep + rest
        return f"{self.path}: {self.key_prefix}{name}"


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith(os.pardir) else rel


def find_config(start: Optional[str] = None) -> Optional[str]:
    """The configuration file in force for ``start`` (default: the working directory), or None."""
    d = Path(start or os.getcwd()).resolve()
    for directory in (d, *d.parents):
        for name in DOTFILES:
            dotfile = directory / name
            if os.path.lexists(dotfile) and not dotfile.is_dir():  # a FIFO or /dev/zero link: refused when read
                return str(dotfile)
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and has_tool_table(pyproject):
            return str(pyproject)
    return None


def has_tool_table(path: Path) -> bool:
    from .files import read_user_text

    try:
        text = read_user_text(str(path), "configuration file", limit=MAX_CONFIG_BYTES, shown=_display(path))
    except ConfigError:  # not a readable text file of a sane size: not ours
        return False
    if TOOL_TABLE not in text:  # cheap pre-check: most pyproject.toml files are not ours
        return False
    try:
        doc = _parse_toml(text, path)
    except ConfigError:
        return True  # ours but broken: load it and report the error
    return isinstance(doc.get("tool"), dict) and TOOL_TABLE in doc["tool"]


def _parse_toml(text: str, path: Path) -> Dict[str, Any]:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
        import tomli as tomllib
    from .files import check_numbers

    try:
        doc = tomllib.loads(text)
        check_numbers(doc, _display(path), ConfigError)
        return doc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{_display(path)}: invalid TOML: {exc}") from None
    except RecursionError:  # a configuration from a pull request is untrusted input
        raise ConfigError(f"{_display(path)}: TOML nests too deeply") from None
    except ValueError as exc:  # after TOMLDecodeError, its subclass: a 5000-digit integer
        from .files import value_problem

        raise ConfigError(f"{_display(path)}: {value_problem(text, exc)}") from None


def load_config(path: str) -> Config:
    """Read and validate one configuration file."""
    p = Path(path)
    shown = _display(p)
    from .files import read_user_text

    text = read_user_text(path, "configuration file", limit=MAX_CONFIG_BYTES, shown=shown)
    prefix = ""
    if p.suffix == ".toml":
        doc = _parse_toml(text, p)
        if p.name == PYPROJECT or "tool" in doc:
            tool = doc.get("tool")
            if not isinstance(tool, dict) or TOOL_TABLE not in tool:
                raise ConfigError(f"{shown}: no [tool.{TOOL_TABLE}] table")
            doc, prefix = tool[TOOL_TABLE], f"tool.{TOOL_TABLE}."
    else:
        import yaml  # lazy

        from .. import safe_yaml

        try:
            doc = safe_yaml.load(text, shown, ConfigError)  # untrusted: aliases and nesting bounded
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise ConfigError(f"{shown}: invalid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
        if doc is None:
            doc = {}
    cfg = Config(path=shown, data={}, key_prefix=prefix, root=str(p.resolve().parent), spelled={})
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{shown}: {prefix.rstrip('.') or 'the file'} must be a mapping of keys to values, not {type(doc).__name__}"
        )
    for key, value in doc.items():
        norm = str(key).replace("-", "_")
        if norm in cfg.data:
            raise ConfigError(f"{shown}: {prefix}{key}: given twice (as {cfg.spelled[norm]!r} and {key!r})")
        cfg.data[norm] = value
        cfg.spelled[norm] = str(key)
    if isinstance(cfg.data.get("tolerances"), dict):
        cfg.data["tolerances"] = _per_rule_tolerances(cfg, cfg.data["tolerances"])
    _validate(cfg)
    return cfg


def _per_rule_tolerances(cfg: Config, tolerances: Dict[Any, Any]) -> Dict[Any, Any]:
    """``RULE.NAME`` written as TOML (``C001.gridsample_px = 0.5``, a dotted key) is a table ``C001`` holding
    ``gridsample_px``: read it as the one key ``C001.gridsample_px``, as in ``--tolerance`` and YAML."""
    out: Dict[Any, Any] = {}
    for rule, value in tolerances.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for name, v in items:
            key = rule if name is None else f"{rule}.{name}"
            if key in out:
                raise ConfigError(f"{cfg.where(f'tolerances.{_q(str(key))}')}: given twice")
            out[key] = v
    return out


@lru_cache(maxsize=1)
def _schema() -> Dict[str, Any]:
    return json.loads(data_path("config.schema.json").read_text(encoding="utf-8"))


def _validate(cfg: Config) -> None:
    import jsonschema  # lazy

    schema = _schema()
    validator = jsonschema.Draft7Validator(schema)
    errors = list(validator.iter_errors(cfg.data))
    if not errors:
        return
    e = min(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator != "additionalProperties"))
    loc = _key_path(e.absolute_path)
    if loc.startswith("input_ranges.") and len(e.absolute_path) >= 2:
        loc = _key_path(list(e.absolute_path)[:2])
        raise ConfigError(f'{cfg.where(loc)}: expected [LO, HI] or "LO:HI", got {_short_repr(e.instance)}')
    if e.validator == "additionalProperties":
        known = sorted(e.schema.get("properties", {}))
        extra = sorted(set(e.instance) - set(known))
        name = extra[0]
        shown = cfg.spelled.get(name, name) if not loc else name
        key = f"{loc}.{shown}" if loc else shown
        hint = _did_you_mean(name, known)
        raise ConfigError(f"{cfg.path}: {cfg.key_prefix}{key}: unknown key{hint} (known: {', '.join(known)})")
    if e.validator == "required":
        missing = [k for k in e.validator_value if k not in e.instance][0]
        raise ConfigError(f"{cfg.where(loc)}: missing required key {missing!r}")
    if e.validator == "enum":
        raise ConfigError(f"{cfg.where(loc)}: {e.instance!r} is not one of {', '.join(map(str, e.validator_value))}")
    if e.validator == "pattern" and loc.endswith(".reason"):
        raise ConfigError(f"{cfg.where(loc)}: a suppression needs a reason (an empty one is not a reason)")
    if e.validator in ("minLength", "pattern") and e.instance == "":
        raise ConfigError(f"{cfg.where(loc)}: must not be empty")
    if e.validator == "type":
        expected = e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value)
        got = "no value (null)" if e.instance is None else f"{_kind(e.instance)} {_short_repr(e.instance)}"
        raise ConfigError(f"{cfg.where(loc)}: expected {_article(expected)}, got {got}")
    raise ConfigError(f"{cfg.where(loc)}: {e.message}")


def _key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{_q(p)}" if out else str(p))
    return out


def _q(name: str) -> str:
    """A key as TOML would spell it: bare when it can be, quoted otherwise ("models/*.onnx")."""
    return name if _BARE.match(name) else json.dumps(name)


def _did_you_mean(name: str, known: List[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _article(kind: str) -> str:
    names = {
        "array": "a list",
        "object": "a mapping",
        "string": "a string",
        "number": "a number",
        "integer": "an integer",
        "boolean": "true or false",
    }
    return names.get(kind, kind)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short_repr(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def apply_config(options, cfg: Config):
    """A copy of ``options`` with the values from ``cfg``; ``options.origins`` says where each came from."""
    from .suppress import Suppression

    d = cfg.data
    origins, tolerances = dict(options.origins), dict(options.tolerances)
    input_ranges, level_overrides = dict(options.input_ranges), dict(options.level_overrides)
    platform_overrides, per_path_ignores = dict(options.platform_overrides), dict(options.per_path_ignores)
    o: Dict[str, Any] = {"config_file": cfg.path, "root": cfg.root}  # the fields this file changes
    for key in ("platforms", "targets", "select", "ignore"):
        if key in d:
            o[key] = tuple(d[key])
            origins[key] = cfg.where(key)
    for key in ("fail_level", "mnn_version"):  # mnn_version is a string (the schema): YAML reads 3.10 as 3.1
        if key in d:
            o[key] = d[key]
            origins[key] = cfg.where(key)
    if "platform_overrides" in d:
        platform_overrides.update(d["platform_overrides"])
        origins["platform_overrides"] = cfg.where("platform_overrides")
    for name, value in d.get("tolerances", {}).items():
        if not math.isfinite(float(value)) or float(value) < 0:  # NaN would silence every comparison
            raise ConfigError(f"{cfg.where(f'tolerances.{_q(name)}')}: {value!r} is not a finite, non-negative number")
        tolerances[name] = float(value)
        origins[f"tolerances.{name}"] = cfg.where(f"tolerances.{_q(name)}")
    for name, value in d.get("input_ranges", {}).items():
        input_ranges[name] = _range(value, cfg, f"input_ranges.{_q(name)}")
        origins[f"input_ranges.{name}"] = cfg.where(f"input_ranges.{_q(name)}")
    for rid, level in d.get("level_overrides", {}).items():
        level_overrides[rid] = level
        origins[f"level_overrides.{rid}"] = cfg.where(f"level_overrides.{_q(rid)}")
    for pattern, ids in d.get("per_path_ignores", {}).items():
        _check_glob(cfg, f"per_path_ignores.{_q(pattern)}", pattern, path=True)
        per_path_ignores[pattern] = tuple(ids)
        origins[f"per_path_ignores.{pattern}"] = cfg.where(f"per_path_ignores.{_q(pattern)}")
    o["rule_dirs"] = _config_paths(cfg, d, "rule_dirs", "rule directory", os.path.exists) + tuple(options.rule_dirs)
    if d.get("extend_select"):
        _check_extend_select(cfg, d["extend_select"], o["rule_dirs"])
        select = o.get("select", options.select)
        if select:  # added to the selection (with none, every rule runs already)
            o["select"] = tuple(select) + tuple(d["extend_select"])
    files = _config_paths(cfg, d, "platform_files", "platform file", os.path.isfile)
    if files:
        o["platform_files"] = files + tuple(options.platform_files)
        origins["platform_files"] = cfg.where("platform_files")
    sups: List[Suppression] = list(options.suppressions)
    for i, s in enumerate(d.get("suppressions", ())):
        _check_glob(cfg, f"suppressions[{i}].path", s["path"], path=True)
        _check_glob(cfg, f"suppressions[{i}].node", s.get("node", "*"), path=False)
        sups.append(
            Suppression(
                rule=s["rule"],
                path=s["path"],
                node=s.get("node", "*"),
                reason=s["reason"].strip(),
                origin=cfg.where(f"suppressions[{i}]"),
            )
        )
    o["suppressions"] = tuple(sups)
    if "baseline" in d:
        o["baseline"] = os.path.normpath(os.path.join(cfg.root, d["baseline"]))
        _inside_project(cfg, "baseline", "baseline", d["baseline"], o["baseline"])
        origins["baseline"] = cfg.where("baseline")
    return replace(
        options,
        origins=origins,
        tolerances=tolerances,
        input_ranges=input_ranges,
        level_overrides=level_overrides,
        platform_overrides=platform_overrides,
        per_path_ignores=per_path_ignores,
        **o,
    )


def _check_extend_select(cfg: Config, patterns: List[str], rule_dirs: Tuple[str, ...]) -> None:
    """Unknown ids are errors naming this key: once merged into ``select`` they would be blamed on ``select``, and
    with no ``select`` the key changes nothing, so a typo would pass unseen."""
    from ..engine.rules import load_rules
    from ..errors import RuleError
    from .selectors import check_rule_ids

    rules = load_rules(rule_dirs)
    try:
        check_rule_ids(rules, patterns, cfg.where("extend_select"))
    except RuleError as exc:
        raise ConfigError(str(exc)) from None


def _check_glob(cfg: Config, key: str, pattern: str, path: bool) -> None:
    from .globs import GlobError, compile_name_glob, compile_path_glob

    try:
        (compile_path_glob if path else compile_name_glob)(pattern)
    except GlobError as exc:
        raise ConfigError(f"{cfg.where(key)}: invalid glob {_short_repr(pattern)}: {exc}") from None


def _range(value: Any, cfg: Config, key: str) -> Tuple[float, float]:
    if isinstance(value, str):
        lo_s, _, hi_s = value.partition(":")
        try:
            lo, hi = float(lo_s), float(hi_s)
        except ValueError:
            raise ConfigError(f'{cfg.where(key)}: expected "LO:HI" or [LO, HI], got {value!r}') from None
    else:
        lo, hi = float(value[0]), float(value[1])
    if lo != lo or hi != hi:  # NaN compares false with everything: it would pass the check below and silence rules
        raise ConfigError(f"{cfg.where(key)}: LO and HI must be numbers, got {value!r}")
    if lo > hi:
        raise ConfigError(f"{cfg.where(key)}: LO must not exceed HI, got {lo:g} > {hi:g}")
    return (lo, hi)


def load_options(config: Optional[str] = None, isolated: bool = False, start: Optional[str] = None, options=None):
    """Options from defaults and configuration: ``config`` names the file, otherwise it is searched upward from
    ``start`` (the working directory); ``isolated`` ignores configuration.  For library callers and the CLI."""
    from ..api import Options

    options = options or Options()
    if isolated:
        return options
    path = config or find_config(start)
    if path is None:
        return options
    return apply_config(options, load_config(path))


def _config_paths(cfg, d: Dict[str, Any], key: str, what: str, exists) -> Tuple[str, ...]:
    """Paths listed under ``key``, relative to the config file's directory; a missing one names file and key."""
    out: List[str] = []
    for i, rel in enumerate(d.get(key, ())):
        p = os.path.normpath(os.path.join(cfg.root, rel))
        if not exists(p):
            raise ConfigError(
                f"{cfg.where(f'{key}[{i}]')}: {what} {rel!r} not found (relative to {_display(Path(cfg.root)) or '.'})"
            )
        _inside_project(cfg, f"{key}[{i}]", what, rel, p)
        out.append(p)
    return tuple(out)


def _inside_project(cfg: Config, key: str, what: str, rel: str, path: str) -> None:
    """A configuration comes with the repository it sits in: it may name files inside its own directory (symlinks
    resolved), never ``../outside`` or ``/home/me`` - those would be read, and quoted in error messages.  A user who
    wants such a path passes it on the command line (--rules, --platforms-file, --baseline)."""
    from ..engine.rules import rule_files

    root = os.path.realpath(cfg.root)
    candidates = [path] + ([str(f) for f in rule_files(Path(path))] if os.path.isdir(path) else [])
    for candidate in candidates:
        real = os.path.realpath(candidate)
        try:
            inside = os.path.commonpath([real, root]) == root
        except ValueError:  # another drive on Windows
            inside = False
        if not inside:
            if candidate != path:
                rel, what = f"{rel}/{os.path.basename(candidate)}", "rule file"
            raise ConfigError(
                f"{cfg.where(key)}: {what} {rel!r} leads outside the project "
                f"({_display(Path(cfg.root)) or '.'}); a configuration may only name files inside "
                f"its own directory (pass it on the command line instead)"
            )
