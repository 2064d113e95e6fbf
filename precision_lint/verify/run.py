"""`precision-lint verify`: run a model on MNN's real kernels at the target precision and at Precision_High, and
compare, per output and per intermediate tensor.

- ARMv8.2 CPU targets (ios-cpu, android-cpu-armv82) run MNN's Arm82 kernels: under QEMU's aarch64 emulation with the
  environment of `setup-arm` (one worker process; the reference is the same emulated build at Precision_High, so
  only the precision differs).  A Low run counts as measured only when MNN printed ``fp16:1`` for it.
- x86 CPU targets: every mode computes fp32 there (bit-identical, measured), so there is nothing to verify.
- GPU/NPU targets: their kernels cannot run here.  From an .onnx, the platform table's storage, arithmetic and
  accumulation formats applied per op give an "emulated from the platform table" result (verify/emulated.py),
  never "measured"; ``emulate=True`` (``--emulate``) emulates the ARM CPU targets too, for comparison.
- An .onnx is converted with MNN's converter first, and the converted model at Precision_High on the host is compared
  with ONNX Runtime in fp32 (the converter has produced wrong fp32 models).
Static findings of the linter on the same model are confirmed or refuted by the measured tensors; the origins of
measured errors that no rule flagged become findings ``V001``.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ..errors import PrecisionLintError
from ..results import Finding, MeasuredRun
from .metrics import DEFAULT_TOLERANCE, TensorError, classifier_like, compare, origins, tensor_depths

# Platforms whose CPU kernels are MNN's Arm82Backend: the emulated aarch64 CPU with FEAT_FP16 runs them.
ARM82_PLATFORMS = ("ios-cpu", "android-cpu-armv82")
# ARMv8.0 cores (no fp16 arithmetic): MNN's plain ARM kernels, which QEMU's cortex-a72 model runs.
ARMV80_PLATFORMS = {"android-cpu-armv80": "cortex-a72"}
FP32_PLATFORMS = ("x86-cpu",)
DEFAULT_TARGETS = ("ios-cpu:low",)  # the seed case
CROSS_RUNTIME_TOLERANCE = 1e-3  # rel-L2 between two fp32 runtimes: rounding order alone gives about 1e-6

MEASURED, FP32_ONLY, NOT_VERIFIABLE, FP16_INACTIVE = "measured", "fp32-only", "not-verifiable", "fp16-not-active"
EMULATED = "emulated"  # the platform table's formats applied per op (verify/emulated.py): never measured


class VerifyError(PrecisionLintError):
    """A verify that cannot run: the message is one line."""


@dataclass
class TargetResult:
    target: str
    status: str  # MEASURED, FP32_ONLY, NOT_VERIFIABLE, FP16_INACTIVE
    message: str
    ran_on: str = ""
    device_line: str = ""
    on: str = ""  # what ran, short: "MNN 3.6.1 Arm82 kernels under QEMU, fp16:1" (each finding's measured block)
    outputs: List[TensorError] = field(default_factory=list)
    nodes: List[TensorError] = field(default_factory=list)
    origins: List[TensorError] = field(default_factory=list)
    emulation: Optional[Dict] = None  # an emulated run: which formats it applied (verify.emulated.Emulation)

    @property
    def exceeded(self) -> bool:
        return self.status in (MEASURED, EMULATED) and any(e.over for e in self.outputs)

    def to_dict(self) -> Dict:
        d = {"target": self.target, "status": self.status, "message": self.message}
        if self.status in (MEASURED, FP16_INACTIVE, EMULATED):
            d.update(
                ran_on=self.ran_on,
                on=self.on,
                device=self.device_line,
                exceeded=self.exceeded,
                outputs=[e.to_dict() for e in self.outputs],
                first_over_tolerance=[e.to_dict() for e in self.origins],
                nodes=[e.to_dict() for e in self.nodes],
            )
        if self.emulation is not None:
            d["emulation"] = self.emulation
        return d


@dataclass
class VerifyResult:
    path: str
    tolerance: float
    inputs: Dict[str, str]
    targets: List[TargetResult]
    cross_runtime: Optional[Dict] = None
    findings: List[Finding] = field(default_factory=list)  # static findings, each with its ``measured`` block
    new_findings: List[Finding] = field(default_factory=list)  # V001
    timings: Dict[str, float] = field(default_factory=dict)
    model_run: str = ""
    # platform -> {"mode", "basis", "why"}: the lint's recommendation with the runs' verdicts for the modes that ran
    # (basis measured / emulated / estimated per platform; engine/decide.py decides, deploy/recommend.py chooses)
    recommendation: Dict[str, Dict] = field(default_factory=dict)
    depths: Dict[str, int] = field(default_factory=dict)  # tensor -> operators from the inputs (the error chart)
    lint: Optional[object] = None  # the linter's LintResult on the model (metadata, identity, drawings) when linted
    # with --no-lint: the whole recommendation the runs decided (results.Recommendation), for the review reports
    runs_recommendation: Optional[object] = None
    # why MNN could not run the model at all (its converter's reason): its targets are not verifiable, the rest ran
    mnn_failure: str = ""
    # target -> known MNN bugs whose effect changes from run to run that apply there to a finding at the fail level:
    # the target ran within tolerance, but the next run (another heap layout) may not; a run cannot clear them
    unsettled: Dict[str, List[str]] = field(default_factory=dict)
    options: Optional[object] = None  # the api.Options of the static findings and recommendation (lint_options)

    @property
    def exit_code(self) -> int:
        if any(t.status == FP16_INACTIVE for t in self.targets):
            return 2  # asked to measure fp16 and could not: no claim either way
        if any(t.exceeded for t in self.targets) or (self.cross_runtime or {}).get("exceeded") or self.unsettled:
            return 1
        return 0

    def to_dict(self, timings: bool = False) -> Dict:
        d = {
            "path": self.path,
            "model_run": self.model_run,
            "tolerance": {"rel_l2": self.tolerance},
            "inputs": dict(sorted(self.inputs.items())),
            "targets": [t.to_dict() for t in self.targets],
            "cross_runtime": self.cross_runtime,
            "findings": [f.to_dict() for f in self.findings],
            "new_findings": [f.to_dict() for f in self.new_findings],
            "exit_code": self.exit_code,
            "recommendation": self.recommendation,
        }
        if self.mnn_failure:
            d["mnn_failure"] = self.mnn_failure
        # the static findings the configuration hides (as check's JSON lists them): not reported, still judged
        if self.lint is not None and self.lint.suppressed:
            d["suppressed"] = [_hidden(f, reason=s.reason, suppression=s.origin) for f, s in self.lint.suppressed]
        if self.lint is not None and self.lint.baselined:
            d["baselined"] = [_hidden(f) for f in self.lint.baselined]
        if self.unsettled:
            d["unsettled"] = {t: list(ids) for t, ids in sorted(self.unsettled.items())}
        if timings:
            d["timings_s"] = {k: round(v, 2) for k, v in self.timings.items()}
        return d


def _hidden(f: Finding, **why: str) -> Dict[str, str]:
    return {"rule": f.rule_id, "node": f.node, "scope": f.scope, "level": f.level, "fingerprint": f.fingerprint, **why}


def verify(
    path: str,
    targets: Sequence[str] = (),
    inputs: Optional[str] = None,
    input_ranges: Optional[Mapping[str, Tuple[float, float]]] = None,
    tolerance: float = DEFAULT_TOLERANCE,
    qemu_cpu: str = "max",
    lint: bool = True,
    progress: Optional[Callable[[str], None]] = None,
    review: bool = False,
    emulate: bool = False,
    storage_only: bool = False,
    options: Optional[Any] = None,
) -> VerifyResult:
    """Runs the comparison (see the module docstring).  Raises VerifyError / PrecisionLintError on bad input.
    ``progress`` receives a short line as each step starts (the CLI shows it on a terminal).  ``review`` also
    reads what a Markdown/HTML review report shows of the model (its identity, the graph around each finding).
    ``emulate``: emulate every target from the platform table, ARMv8.2/ARMv8.0 CPUs too (to compare the emulation
    with their measured run); ``storage_only``: emulations apply the storage formats only (the lower bound).
    ``options``: the project's api.Options (its configuration), as `check` reads them: their platform tables and
    MNN version, their rules, tolerances and policy for the static findings, their input ranges under
    ``input_ranges`` and their targets when ``targets`` is empty."""
    from ..api import Options
    from ..model.loaders import detect_format, load_model
    from ..deploy.platforms import options_table
    from ..deploy.targets import parse_targets
    from . import inputs as verify_inputs

    say = progress or (lambda message: None)

    timings: Dict[str, float] = {}
    if os.path.isdir(path):
        raise VerifyError(f"{path}: is a directory; verify runs one model file")
    if not os.path.isfile(path):
        raise VerifyError(f"{path}: no such file")
    base = options if options is not None else Options()
    table = options_table(base)
    explicit = tuple(targets or ())
    origin = "--target" if explicit or not base.targets else base.origins.get("targets", "targets")
    parsed = parse_targets(explicit or tuple(base.targets) or DEFAULT_TARGETS, table, origin)
    fmt = detect_format(path)
    source = load_model(path) if fmt == "onnx" else None  # read errors from our loader, before the converter's
    with tempfile.TemporaryDirectory(prefix="precision-lint-verify-") as tmp:
        run_model, mnn_failure = path, ""
        if fmt == "onnx":
            say("converting with MNN's converter")
            t = time.monotonic()
            run_model = os.path.join(tmp, Path(path).stem + ".mnn")
            try:
                convert_onnx(path, run_model)
            except VerifyError as exc:  # MNN lacks an op: a limitation, reported per target; the rest still runs
                mnn_failure = str(exc)
            timings["conversion"] = time.monotonic() - t
        graph = source if mnn_failure else load_model(run_model)
        source = source or graph  # node names as the user's file spells them
        # the configuration's ranges of this model's inputs (it may serve many models), then the command line's
        # (the static findings take every declared range, as `check` does: one on an inner tensor bounds it)
        names = {t.name for t in source.tensors.values() if t.is_input and not t.is_const}
        ranges = {**{k: v for k, v in base.input_ranges.items() if k in names}, **(input_ranges or {})}
        base = lint_options(base, [str(t) for t in parsed], {**base.input_ranges, **ranges}, review)
        specs = verify_inputs.specs(source, ranges)  # from the user's file: its dynamic dims
        feeds = verify_inputs.read(inputs, specs, path) if inputs else verify_inputs.generate(specs, path)
        result = VerifyResult(
            path=path,
            tolerance=tolerance,
            inputs=verify_inputs.describe(specs, inputs),
            targets=[],
            timings=timings,
            model_run="" if mnn_failure else os.path.basename(run_model),
            mnn_failure=mnn_failure,
            options=base,
        )
        result.depths = {**tensor_depths(source), **tensor_depths(graph)}
        outputs, inter = _compared_tensors(graph)

        arm = [t for t in parsed if t.platform in ARM82_PLATFORMS and not emulate]
        if mnn_failure:
            arm = [
                t for t in parsed if (t.platform in ARM82_PLATFORMS or t.platform in ARMV80_PLATFORMS) and not emulate
            ]
            result.targets += [_unrunnable(str(t), mnn_failure) for t in arm]
        elif arm:
            _measure_arm(result, arm, graph, source, run_model, feeds, outputs, inter, tolerance, qemu_cpu, True, say)
        for cpu in sorted(set(ARMV80_PLATFORMS.values())):
            v80 = [t for t in parsed if ARMV80_PLATFORMS.get(t.platform) == cpu and not emulate and not mnn_failure]
            if v80:
                _measure_arm(result, v80, graph, source, run_model, feeds, outputs, inter, tolerance, cpu, False, say)
        by_target = {r.target: r for r in result.targets}
        for t in parsed:
            name = str(t)
            if t.platform in FP32_PLATFORMS:
                by_target[name] = TargetResult(
                    name,
                    FP32_ONLY,
                    f"every precision mode computes fp32 on "
                    f"{table[t.platform].name} (bit-identical, measured): nothing to verify",
                )
            elif emulate or (t.platform not in ARM82_PLATFORMS and t.platform not in ARMV80_PLATFORMS):
                say(f"{name}: emulating the platform table's formats")
                by_target[name], seconds = _emulate(
                    path,
                    fmt,
                    source,
                    table[t.platform],
                    t.mode,
                    name,
                    feeds,
                    tolerance,
                    storage_only,
                    measurable=emulate,
                )
                timings[f"emulation_{name}"] = seconds
        result.targets = [by_target[str(t)] for t in parsed]
        if mnn_failure:
            result.cross_runtime = {"status": "failed", "message": mnn_failure}
        elif fmt == "onnx":
            say("converter check: MNN on the host vs ONNX Runtime")
            t0 = time.monotonic()
            result.cross_runtime = _cross_runtime(path, run_model, feeds, outputs)
            timings["cross_runtime"] = time.monotonic() - t0
        if lint:
            say("static rules")
            t0 = time.monotonic()
            _attach_findings(result, path, base, source)
            timings["lint"] = time.monotonic() - t0
        else:
            _recommend(result, base)
    return result


def measured_runs(targets: Sequence[TargetResult]) -> List[MeasuredRun]:
    """The targets that ran (measured or emulated), as the decision reads them: over tolerance or not, and where."""
    out = []
    for tr in targets:
        if tr.status not in (MEASURED, EMULATED):
            continue
        why = ""
        if tr.exceeded:
            where = tr.origins[0] if tr.origins else max(tr.outputs, key=lambda e: (e.over, e.rel_l2))
            why = f"the error starts at {where.op or 'tensor'} {where.node or where.name!r} ({where.summary()})"
        out.append(MeasuredRun(tr.target, tr.status, tr.exceeded, why))
    return out


def lint_options(base, targets: Sequence[str], input_ranges: Mapping[str, Tuple[float, float]], review: bool = False):
    """The api.Options of verify's static findings and recommendation: the project's (``base``) for the targets
    that run, with the declared input ranges (the runs' and the configuration's others); no snippets (verify prints
    none)."""
    return replace(
        base,
        targets=tuple(targets),
        input_ranges=dict(input_ranges),
        recommend=False,
        identity=review,
        neighbourhoods=review,
        snippets=(),
    )


def _recommend(
    result: "VerifyResult", options, linter=None, lint_result=None, verdicts=None, reported: Sequence[Finding] = ()
) -> None:
    """The recommendation verify prints: the lint's, with the runs deciding the modes that ran (engine/decide.py),
    per platform its mode, basis (measured / emulated / estimated) and why.  ``reported``: the findings the report
    shows (not suppressed or baselined): only theirs leave a target unsettled (a suppression accepts a finding: it
    does not fail the run, though the recommendation still judges it)."""
    from ..api import Linter, LintResult

    no_lint = linter is None
    if no_lint:  # --no-lint: no findings, only what the runs showed
        linter = Linter(options)
        lint_result = LintResult(path=result.path)
    verdicts = verdicts if verdicts is not None else linter.decider.verdicts()
    linter.decider.recommend(lint_result, verdicts, measured_runs(result.targets))
    if no_lint:
        result.runs_recommendation = lint_result.recommendation
    result.recommendation = {
        p.platform: {"mode": p.mode, "basis": p.basis, "why": p.why} for p in lint_result.recommendation.platforms
    }
    shown = {f.fingerprint for f in reported}
    result.unsettled = unsettled_targets(result.targets, lint_result.recommendation, shown)


def unsettled_targets(targets: Sequence[TargetResult], recommendation, shown: Set[str]) -> Dict[str, List[str]]:
    """Target -> the known bugs whose effect changes from run to run that still block its mode although its run
    stayed within tolerance (deploy/recommend.py keeps them blocking: that run may have missed them), for the
    findings whose fingerprint is in ``shown`` (the reported ones)."""
    choices = {p.platform: p for p in recommendation.platforms}
    out = {}
    for tr in targets:
        if tr.status not in (MEASURED, EMULATED) or tr.exceeded:
            continue
        platform, mode = tr.target.rsplit(":", 1)
        choice = choices.get(platform)
        if choice is None:
            continue
        blocking = [v for v in choice.mode_named(mode).blocking if v.finding.fingerprint in shown]
        ids = sorted({b.id for v in blocking for b in v.unstable_bugs})
        if ids:
            out[tr.target] = ids
    return out


def convert_onnx(src: str, dst: str) -> None:
    """ONNX -> MNN with MNN's own converter (precision_lint.model.converter; never MNN.tools)."""
    from ..model.converter import ConversionError, convert_to_mnn

    try:
        convert_to_mnn(src, dst)
    except ConversionError as exc:
        raise VerifyError(str(exc)) from None


def _measure_arm(
    result,
    arm,
    graph,
    source,
    run_model,
    feeds,
    outputs,
    inter,
    tolerance,
    qemu_cpu,
    fp16_target: bool,
    say: Callable[[str], None],
) -> None:
    """One emulated worker for ``arm`` (targets of one CPU model): High as the reference, then each mode."""
    from ..deploy.platform_model import PRECISION_ENUM
    from .arm_runner import Emulation, Run, execute
    from .arm_setup import cache_dir, load_manifest

    manifest = load_manifest()  # SetupError with the one-line hint: never downloads here
    emulation = Emulation(cache_dir(), manifest, qemu_cpu)
    modes = sorted({t.mode for t in arm if t.mode != "high"})
    runs = [Run("high", run_model, "high", feeds, outputs, inter)]
    runs += [Run(m, run_model, m, feeds, outputs, inter) for m in modes]
    say(f"starting the emulated worker (-cpu {qemu_cpu}; import MNN takes seconds)")
    outcome = execute(runs, emulation, progress=lambda m: say(f"-cpu {qemu_cpu}: {m}"))
    tag = "" if fp16_target else f"_{qemu_cpu}"
    result.timings[f"emulated_worker{tag}"] = outcome.seconds
    result.timings[f"emulated_import{tag}"] = outcome.import_seconds
    for rid, res in outcome.results.items():
        if "error" in res:
            raise VerifyError(f"{result.path}: MNN could not run the model ({rid}): {res['error']}")
        result.timings[f"run_{rid}{tag}"] = res["seconds"]
    notes = sorted({res["note"] for res in outcome.results.values() if res.get("note")})
    ref = outcome.arrays["high"]
    producer = {o: op for op in graph.operators() for o in op.outputs}
    producer.update({o: op for op in source.operators() if not op.scope for o in op.outputs if o in producer})
    ran_on = emulation.describe()
    where = "under QEMU" if "qemu" in ran_on.lower() else "natively"
    version = manifest.get("mnn_version") or outcome.mnn_version
    for t in arm:
        name = str(t)
        arrays = outcome.arrays[t.mode if t.mode != "high" else "high"]
        errors = _errors(list(outputs) + list(inter), arrays, ref, outputs, producer, tolerance)
        tr = TargetResult(
            name,
            MEASURED,
            "",
            ran_on=ran_on,
            device_line=outcome.device_line,
            outputs=[errors[o] for o in outputs if o in errors],
            nodes=[errors[o] for o in inter if o in errors],
        )
        tr.origins = origins(graph, errors)
        if not fp16_target:
            if outcome.fp16:  # the emulated CPU would have picked the Arm82 kernels: not this target's
                tr.status = NOT_VERIFIABLE
                tr.message = f"not verifiable here: -cpu {qemu_cpu} reported fp16 arithmetic, unlike {name}"
            else:
                tr.message = (
                    f"measured on MNN's ARMv8.0 kernels ({ran_on}; {outcome.device_line}): no fp16 "
                    f"arithmetic, as on the target"
                )
                tr.on = f"MNN {version} ARMv8.0 kernels {where} (-cpu {qemu_cpu}), no fp16 arithmetic"
        elif t.mode == "low" and not outcome.fp16:
            tr.status = FP16_INACTIVE
            tr.message = (
                f"fp16 not active: MNN reported no fp16 arithmetic ({outcome.device_line or 'no device line'}), "
                f"so Precision_Low computed fp32 here; nothing about {name} was measured"
            )
        elif t.mode == "low":
            tr.message = f"measured on MNN's Arm82 fp16 kernels ({ran_on}; {outcome.device_line})"
            tr.on = f"MNN {version} Arm82 kernels {where}, fp16:1"
        else:
            tr.message = f"measured on MNN's ARM kernels at {t.mode} ({ran_on}); this mode computes fp32"
            tr.on = f"MNN {version} ARM kernels {where}, {PRECISION_ENUM[t.mode]} computes fp32"
        if notes:
            tr.message += "; " + "; ".join(notes) + ": only the outputs were compared"
        result.targets.append(tr)


def _unrunnable(name: str, why: str) -> TargetResult:
    return TargetResult(name, NOT_VERIFIABLE, f"not verifiable: MNN cannot run this model here: {why}")


def _compared_tensors(graph) -> Tuple[List[str], List[str]]:
    """(graph outputs, intermediate tensors) a run is compared on: every non-constant tensor an operator of the main
    graph writes."""
    outputs = [t.name for t in graph.tensors.values() if t.is_output]
    inter = [
        o
        for op in graph.operators()
        if not op.scope
        for o in op.outputs
        if o and o not in outputs and o in graph.tensors and not graph.tensors[o].is_const
    ]
    return outputs, inter


def _errors(tensors, got, ref, outputs, producer, tolerance) -> Dict:
    """Per tensor that both runs produced: its error against the reference (measured and emulated runs alike)."""
    errors = {}
    for tensor in tensors:
        if tensor in got and tensor in ref:
            op = producer.get(tensor)
            kind = op.op if op else ""
            errors[tensor] = compare(
                tensor,
                got[tensor],
                ref[tensor],
                tolerance,
                kind,
                op.name if op else "",
                classifier=tensor in outputs
                and classifier_like(ref[tensor].shape, kind, floating=ref[tensor].dtype.kind == "f"),
            )
    return errors


def _emulate(
    path, fmt, source, platform, mode, name, feeds, tolerance, storage_only=False, measurable=False
) -> Tuple[TargetResult, float]:
    """A target emulated from the platform table (.onnx only): (its result, seconds).  ``measurable``: the target's
    kernels could have run here, and emulation was asked for (``--emulate``)."""
    unmeasured = (
        f"{platform.name}: emulation asked for (--emulate) instead of the real kernels"
        if measurable
        else f"{platform.name} kernels cannot run on this machine"
    )
    if fmt != "onnx":
        return TargetResult(
            name,
            NOT_VERIFIABLE,
            f"not verifiable here: {unmeasured}, and the emulation needs the "
            f".onnx; the static findings stand unmeasured",
        ), 0.0
    from . import emulated as verify_emulated

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return TargetResult(
            name,
            NOT_VERIFIABLE,
            f"not verifiable here: {unmeasured}; the emulation needs "
            f"onnxruntime (pip install 'precision-lint[verify]')",
        ), 0.0
    outputs, inter = _compared_tensors(source)
    got, ref, info = verify_emulated.run(path, source, platform, mode, feeds, outputs, inter, storage_only)
    producer = {o: op for op in source.operators() for o in op.outputs}
    errors = _errors(outputs + inter, got, ref, outputs, producer, tolerance)
    tr = TargetResult(
        name,
        EMULATED,
        f"{info.label()}, not measured: {unmeasured}; {_emulation_summary(info)}",
        ran_on=info.engine,
        on=f"{info.label()}: {platform.name} at {mode}",
        outputs=[errors[o] for o in outputs if o in errors],
        nodes=[errors[o] for o in inter if o in errors],
        emulation=info.to_dict(),
    )
    tr.origins = origins(source, errors)
    return tr, info.seconds


def _emulation_summary(info) -> str:
    """What the emulation rounded, in words (the counts are in the JSON's ``emulation`` block)."""

    def ops(counts: Dict[str, int]) -> str:
        return ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(counts.items()))

    parts = [
        f"{info.stored} tensors stored in fp16/bf16"
        + (f" ({info.saturated} converted with saturation at +-65504)" if info.saturated else "")
    ]
    if info.arithmetic:
        parts.append(f"reduced arithmetic in {ops(info.arithmetic)}")
    if info.accumulation:
        parts.append(f"reduced accumulation in {ops(info.accumulation)}")
    if info.not_modelled:
        parts.append(f"accumulation not modelled (kept fp32) in {ops(info.not_modelled)}")
    if info.fallback:
        parts.append(info.fallback)
    if not info.arithmetic and not info.accumulation:
        parts.append(
            "arithmetic and accumulation fp32"
            + ("" if info.fallback else " on this target")
            + ": a lower bound where the kernels compute in fp16"
        )
    parts.append("kernel algorithms (Winograd...) and approximations are not emulated")
    return "; ".join(parts)


def _cross_runtime(path, run_model, feeds, outputs) -> Dict:
    """The converted .mnn at Precision_High on the host against ONNX Runtime fp32 on the .onnx."""
    from .arm_runner import Run, execute

    try:
        import onnxruntime as ort
    except ImportError:
        return {"status": "skipped", "message": "onnxruntime is not installed (pip install 'precision-lint[verify]')"}
    outcome = execute([Run("host", run_model, "high", feeds, outputs)])
    res = outcome.results["host"]
    if "error" in res:
        return {"status": "failed", "message": f"MNN could not run the converted model on the host: {res['error']}"}
    from . import ort_run

    got = ort_run.run(ort_run.session(path), feeds)
    names = list(got)
    errors = [
        compare(n, outcome.arrays["host"][n], got[n], CROSS_RUNTIME_TOLERANCE)
        for n in names
        if n in outcome.arrays["host"]
    ]
    missing = [n for n in names if n not in outcome.arrays["host"]]
    exceeded = any(e.over for e in errors) or bool(missing)
    msg = f"MNN {outcome.mnn_version} (host, Precision_High) vs ONNX Runtime {ort.__version__} (fp32): " + (
        "the converted model disagrees" if exceeded else "agree within tolerance"
    )
    if missing:
        msg += f"; outputs missing from the .mnn: {', '.join(missing)}"
    return {
        "status": "measured",
        "message": msg,
        "tolerance": {"rel_l2": CROSS_RUNTIME_TOLERANCE},
        "exceeded": exceeded,
        "outputs": [e.to_dict() for e in errors],
    }


def _attach_findings(result: VerifyResult, path: str, options, lint_graph) -> None:
    """Static findings on ``path`` for the targets of ``options`` (lint_options), each with what the measured
    tensors say; origins of measured errors that no finding covers become V001 findings."""
    from ..api import Linter, LintResult
    from ..deploy.targets import parse_target

    linter = Linter(options)
    lint_result = linter.lint_file(path)
    table = linter.deployment.table
    if lint_result.error is not None:
        raise VerifyError(lint_result.error.message)
    verdicts = linter.decider.verdicts()
    outputs_of = {(op.scope, op.name): op.outputs for op in lint_graph.operators()}
    measured = [t for t in result.targets if t.status in (MEASURED, EMULATED)]
    covered = set()
    # suppressed and baselined findings too: hidden from the report, but the model's numerics have not changed, so
    # the recommendation still judges them (as `check`'s does) and an error at their node is not "no rule flagged it"
    hidden = {f.fingerprint for f, _ in lint_result.suppressed} | {f.fingerprint for f in lint_result.baselined}
    judged_findings: List[Finding] = []
    for f in sorted(lint_result.findings, key=Finding.sort_key):
        if f.level == "none":
            judged_findings.append(f)
            continue
        block = {}
        for tr in measured:
            t = parse_target(tr.target, table)
            if verdicts.get(f, table[t.platform], t.mode).level == "none":
                continue  # the finding claims nothing for this target (e.g. a mode that computes fp32)
            errs = {e.name: e for e in tr.outputs + tr.nodes}
            seen = [errs[n] for n in outputs_of.get((f.scope, f.node), ()) if n in errs]
            if not seen:
                block[tr.target] = {
                    "verdict": "not observed",
                    "basis": tr.status,
                    "on": tr.on,
                    "why": "its tensors were fused or renamed by the converter",
                }
                continue
            worst = max(seen, key=lambda e: (e.over, e.rel_l2 if e.rel_l2 == e.rel_l2 else float("inf")))
            covered.update(e.name for e in seen)
            starts = {e.name for e in tr.origins}
            over_here = [e for e in seen if e.over and e.name in starts]
            if over_here:
                worst, verdict = over_here[0], "confirmed"  # the error starts at this node
            else:
                verdict = "inherited" if worst.over else "refuted"  # over only because an ancestor is
            block[tr.target] = {"verdict": verdict, "basis": tr.status, "on": tr.on, **worst.to_dict()}
        judged_findings.append(replace(f, measured=block) if block else f)
    result.findings = [f for f in judged_findings if f.level != "none" and f.fingerprint not in hidden]
    new: Dict[str, Finding] = {}
    for tr in (t for t in measured if t.status == MEASURED):  # V001 is measured only, never emulated
        for e in tr.origins:
            if e.name in covered or e.name in new:
                continue
            new[e.name] = Finding(
                rule_id="V001",
                rule_name="measured-precision-error",
                level="error",
                path=path,
                node=e.node or e.name,
                op=e.op,
                source_op=e.op,
                failure_class="measured",
                message=(
                    f"measured on {tr.target}: {e.op or 'tensor'} output {e.name!r} differs from Precision_High "
                    f"by rel-L2 {e.rel_l2:.3g} (max abs {e.max_abs:.3g}, {e.nan} NaN, {e.inf} inf) while "
                    f"its inputs are within tolerance; no static rule flagged it"
                ),
                fix="Run this model at Precision_High on the target, or keep this op in fp32.",
                evidence={"target": tr.target, **e.to_dict()},
                judged_for=("fp16",),
                measured={tr.target: {"verdict": "found", "basis": tr.status, "on": tr.on, **e.to_dict()}},
            )
    result.new_findings = sorted(new.values(), key=Finding.sort_key)
    lint_result.findings = judged_findings  # now with what was measured
    result.lint = lint_result
    # the recommendation judges every finding, V001 and the hidden ones included, with what each run showed of it
    judged = LintResult(
        path=lint_result.path, findings=judged_findings + list(result.new_findings), metadata=lint_result.metadata
    )
    _recommend(result, options, linter, judged, verdicts, reported=result.findings + result.new_findings)
    from ..deploy.mnn_notes import mnn_notes

    lint_result.recommendation = judged.recommendation
    lint_result.extras["mnn_notes"] = mnn_notes(lint_result, judged.recommendation)  # its backends' reports


__all__ = ["verify", "VerifyResult", "TargetResult", "VerifyError", "convert_onnx", "DEFAULT_TARGETS"]
