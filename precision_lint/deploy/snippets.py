"""Deployment snippets for a recommended (or declared) precision mode: C++ Session API, C++ Module API, Python, and
the arguments of MNN's command-line tools.  Templates are data (``data/snippets.yaml``); this module fills them.

    >>> snippets_for("model.onnx", table["ios-cpu"], "normal", kinds=("python",))["python"]

For an ``.onnx`` model every snippet shows the conversion with MNN's converter first (``MNNConvert`` on the command
line, ``_tools.mnnconvert`` in Python; never ``MNN.tools``) and loads the resulting ``.mnn`` beside it.

``LintResult.snippets`` holds, per platform id, a ``results.PlatformSnippets`` (mode, precision, the .mnn the
snippets load, and the code per kind asked for); in JSON: ``{"mode": "normal", "precision": "Precision_Normal",
"model": "<the .mnn>", "python": "...", "cpp_session": "...", "cpp_module": "...", "cli": "..."}``.  Nothing here imports MNN.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import string
from functools import lru_cache
from typing import Dict, Iterable, Mapping, Sequence, Tuple

from .platforms import PRECISION_ENUM, PRECISION_VALUE, Platform
from ..resources import data_path
from ..results import PlatformSnippets, Recommendation

KINDS = ("python", "cpp_session", "cpp_module", "cli")
# --snippets choices -> kinds
CHOICES: Dict[str, Tuple[str, ...]] = {
    "python": ("python",),
    "cpp": ("cpp_session", "cpp_module"),
    "cli": ("cli",),
    "all": KINDS,
    "none": (),
}
LANGUAGE = {"python": "python", "cpp_session": "cpp", "cpp_module": "cpp", "cli": "sh"}
TITLE = {
    "python": "Python",
    "cpp_session": "C++ Session API",
    "cpp_module": "C++ Module API",
    "cli": "MNN command-line tools",
}


def kinds_for(choices: Iterable[str]) -> Tuple[str, ...]:
    """``["cpp", "python"]`` -> the snippet kinds, in KINDS order; ValueError for an unknown choice."""
    out = set()
    for c in choices:
        for part in str(c).split(","):
            part = part.strip()
            if not part:
                continue
            if part in KINDS:
                out.add(part)
            elif part in CHOICES:
                out.update(CHOICES[part])
            else:
                known = list(dict.fromkeys(list(CHOICES) + list(KINDS)))  # 'python' is both a choice and a kind
                raise ValueError(f"unknown snippet kind {part!r} (known: {', '.join(known)})")
    return tuple(k for k in KINDS if k in out)


@lru_cache(maxsize=1)
def _templates() -> Dict[str, string.Template]:
    from .. import safe_yaml  # lazy

    path = data_path("snippets.yaml")
    doc = safe_yaml.load(path.read_text("utf-8"), str(path), ValueError, shipped=True)  # shipped data: libyaml
    return {k: string.Template(v) for k, v in doc.items()}


def mnn_path_for(model_path: str) -> str:
    """The .mnn file the snippets load: the model itself, or the conversion beside an .onnx file."""
    root, ext = os.path.splitext(model_path)
    return model_path if ext.lower() == ".mnn" else root + ".mnn"


def _c_string(text: str) -> str:
    return json.dumps(text)  # a valid C string literal for printable text (quotes and backslashes escaped)


_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _sh_word(text: str) -> str:
    """``text`` as one shell word on one line: shlex's quoting, or bash's ``$'...'`` with escapes when it holds a
    control character (a newline in a file name would end the comment a snippet quotes the command in, and what
    followed it would be code)."""
    if not _CONTROL.search(text):
        return shlex.quote(text)
    body = re.sub(r"[\\']", lambda m: "\\" + m.group(0), text)
    return "$'" + _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", body) + "'"


def _fields(model_path: str, model_format: str, platform: Platform, mode: str) -> Dict[str, str]:
    mnn_model = mnn_path_for(model_path) if model_format == "onnx" else model_path
    convert = model_format == "onnx"
    sh_convert = f"MNNConvert -f ONNX --modelFile {_sh_word(model_path)} --MNNModel {_sh_word(mnn_model)} --bizCode biz"
    fields = {
        "platform_name": platform.name,
        "platform_id": platform.id,
        "backend": platform.backend,
        "forward_type": platform.forward_type,
        "forward_type_value": str(platform.forward_type_value),
        "precision_enum": PRECISION_ENUM[mode],
        "precision_value": str(PRECISION_VALUE[mode]),
        "mode": mode,
        "py_model": repr(mnn_model),
        "py_source": repr(model_path),
        "cpp_model": _c_string(mnn_model),
        "sh_model": _sh_word(mnn_model),
        "sh_convert": sh_convert,
        "cpp_convert": f"Convert the model first: {sh_convert}" if convert else f"Model: {_sh_word(mnn_model)}",
        "cli_convert": f"{sh_convert}\n" if convert else "",
    }
    t = _templates()
    fields["python_convert"] = t["python_convert"].substitute(fields).rstrip("\n") + "\n" if convert else ""
    return fields


def snippets_for(
    model_path: str, platform: Platform, mode: str, kinds: Sequence[str] = KINDS, model_format: str = ""
) -> Dict[str, str]:
    """Snippet text per kind for running ``model_path`` on ``platform`` at precision ``mode``."""
    fmt = model_format or ("onnx" if model_path.lower().endswith(".onnx") else "mnn")
    fields = _fields(model_path, fmt, platform, mode)
    t = _templates()
    return {k: t[k].substitute(fields) for k in kinds}


def snippets_for_recommendation(
    model_path: str,
    model_format: str,
    recommendation: Recommendation,
    platforms: Mapping[str, Platform],
    kinds: Sequence[str],
) -> Dict[str, PlatformSnippets]:
    """``LintResult.snippets``: per platform id, the snippets for the recommended mode."""
    out: Dict[str, PlatformSnippets] = {}
    if not kinds:
        return out
    for rec in recommendation.platforms:
        p = platforms[rec.platform]
        out[p.id] = PlatformSnippets(
            rec.mode,
            PRECISION_ENUM[rec.mode],
            mnn_path_for(model_path) if model_format == "onnx" else model_path,
            snippets_for(model_path, p, rec.mode, kinds, model_format),
        )
    return out
