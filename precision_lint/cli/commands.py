"""Command line: a thin layer that turns flags into Options, runs the Linter and hands results to a reporter."""

from __future__ import annotations

import codecs
import os
import sys
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import click

from .. import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _split_csv(values: Sequence[str]) -> Tuple[str, ...]:
    out: List[str] = []
    for v in values:
        out += [p.strip() for p in v.split(",") if p.strip()]
    return tuple(out)


def _parse_pairs(values: Sequence[str], flag: str) -> Dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.UsageError(f"{flag} expects NAME=VALUE, got {v!r}")
        k, _, val = v.partition("=")
        k, val = k.strip(), val.strip()
        if out.get(k, val) != val:  # two values for one name: one of them would be dropped without a word
            raise click.UsageError(f"{flag} {k}: given twice with different values ({out[k]!r} and {val!r})")
        out[k] = val
    return out


def parse_tolerances(values: Sequence[str]) -> Dict[str, float]:
    out = {}
    import math

    for k, v in _parse_pairs(values, "--tolerance").items():
        try:
            out[k] = float(v)
        except ValueError:
            raise click.UsageError(f"--tolerance {k}: {v!r} is not a number") from None
        if not math.isfinite(out[k]) or out[k] < 0:  # a NaN threshold would silence every comparison
            raise click.UsageError(f"--tolerance {k}: {v!r} is not a finite, non-negative number")
    return out


def parse_input_ranges(values: Sequence[str]) -> Dict[str, Tuple[float, float]]:
    out = {}
    for k, v in _parse_pairs(values, "--input-range").items():
        lo, sep, hi = v.partition(":")
        try:
            lo_f, hi_f = float(lo), float(hi)
        except ValueError:
            raise click.UsageError(f"--input-range {k}: expected LO:HI, got {v!r}") from None
        if not sep or not lo_f <= hi_f:  # NaN compares false: a NaN bound would silence the rules it reaches
            raise click.UsageError(f"--input-range {k}: expected LO:HI with LO <= HI, got {v!r}")
        out[k] = (lo_f, hi_f)
    return out


def _use_color(choice: str, stream) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return hasattr(stream, "isatty") and stream.isatty()


class _Group(click.Group):
    """`precision-lint MODEL...` runs `check`: the subcommand name is optional."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["check"] + list(args)
        elif not args:  # like ruff: the help, on stderr, and a usage error's exit code
            click.echo(ctx.get_help(), err=True)
            ctx.exit(EXIT_ERROR)
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage("precision-lint", "[OPTIONS] MODEL...  |  precision-lint COMMAND [ARGS]...")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, "--version", prog_name="precision-lint")
def cli() -> None:
    """Find the operators in an ONNX or MNN model whose results change with numeric precision, estimate the
    error in fp16 and bf16, and say which MNN precision to deploy with.

    \b
    Examples:
      precision-lint model.mnn                   lint one model (same as `precision-lint check model.mnn`)
      precision-lint models/ --format sarif      lint a directory, SARIF for code scanning
      precision-lint rules                       list the rules
      precision-lint rule C001                   explain one rule

    Exit codes: 0 clean, 1 findings at or above --fail-level, 2 usage, configuration or unreadable input, or a
    rule that failed while linting.
    """


def _format_names() -> str:
    from ..reporters import REPORTERS  # a dict of names: cheap

    return ", ".join(REPORTERS)


def _observe(paths, data: str, inputs) -> Dict[str, Tuple[float, float]]:
    """--calibration-data: the ranges every tensor reached on ``data`` (one model), to become declared ranges."""
    from ..verify.calibration_data import observed_ranges
    from ..errors import PrecisionLintError

    if len(paths) != 1:
        inputs.cleanup()
        raise click.UsageError(f"--calibration-data {data}: give exactly one model (got {len(paths)})")
    try:
        return observed_ranges(paths[0], data)
    except PrecisionLintError as exc:
        inputs.cleanup()
        _fail(str(exc))


@cli.command("check")
@click.argument("models", nargs=-1, required=True, metavar="MODEL...")
@click.option("--format", "fmt", default="text", show_default=True, help=f"Output format: {_format_names()}.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report to FILE (the text report still goes to the terminal).",
)
@click.option(
    "--fail-level",
    type=click.Choice(["error", "warning", "info"]),
    default=None,
    help="Exit 1 when a finding is at or above this level.  [default: error]",
)
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 even with findings (still 2 for errors: unreadable input, a rule that failed).",
)
@click.option(
    "--rules",
    "rule_dirs",
    multiple=True,
    type=click.Path(exists=True),
    help="Extra rule directory or file (repeatable).",
)
@click.option(
    "--select",
    multiple=True,
    help="Only these rule ids, prefixes or names, comma-separated (e.g. C,R001); "
    "with --ignore, the more specific selector wins.",
)
@click.option(
    "--extend-select",
    multiple=True,
    help="Rule ids, prefixes or names to add to the selection (of --select or the configuration), comma-separated.",
)
@click.option("--ignore", multiple=True, help="Skip these rule ids, prefixes or names, comma-separated.")
@click.option(
    "--tolerance",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a rule tolerance, e.g. gridsample_px=0.5 (every rule that declares it) or "
    "C001.gridsample_px=0.5 (that rule only); see `precision-lint rule ID`.",
)
@click.option(
    "--input-range",
    multiple=True,
    metavar="NAME=LO:HI",
    help="Declare the value range of a model input, e.g. image=0:1 (turns conditional findings into "
    "proven ones or silences them).",
)
@click.option(
    "--calibration-data",
    "calibration_data",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Run the model once in fp32 on these inputs (.npz by input name, or .npy; one model only) and "
    "judge the rules with the value range every tensor reached.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read configuration from FILE instead of the nearest .precision-lint.yaml or pyproject.toml "
    "[tool.precision-lint] above the working directory.",
)
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False),
    help="Report only findings that are not recorded in this baseline file.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, writable=True),
    help="Record the current findings in FILE and exit 0 (2 on an input error: an unreadable model, no model found).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes (0 or 1: none).  [default: parallel only when the run is long enough to gain from it]",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress line on stderr.  [default: on a terminal, for several files]",
)
@click.option(
    "--platform",
    "platform_names",
    multiple=True,
    metavar="NAME",
    help="Recommend an MNN precision for these platforms (repeatable, comma-separated; default: the "
    "--target platforms, else all; see `precision-lint platforms`).",
)
@click.option(
    "--target",
    "target_specs",
    multiple=True,
    metavar="PLATFORM:MODE",
    help="Declare a deployment, e.g. ios-cpu:low (repeatable): levels and the exit code are judged for "
    "exactly these configurations.",
)
@click.option(
    "--mnn-version",
    metavar="VERSION",
    help="The MNN version you deploy (e.g. 3.6.1): decides which known kernel bugs apply (default: the "
    "version the platform table was checked against; config key mnn_version).",
)
@click.option(
    "--platforms-file",
    "platform_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Extra or overriding platform table (YAML, the layout of the built-in one; repeatable).",
)
@click.option(
    "--snippets",
    "snippet_kinds",
    default="auto",
    metavar="KINDS",
    help="Deployment code for the recommended mode: python, cpp, cli, all, none (comma-separated).  "
    "[default: all with --platform/--target (always in JSON), else none]",
)
@click.option(
    "--html-link",
    metavar="URL",
    help="Markdown: where the HTML report of the same run is (default: the -o file's name with .html).",
)
@click.option(
    "--statistics",
    is_flag=True,
    help="After the text report, the number of findings per rule (count, id, name), most frequent first.",
)
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="The name to report for a model read from standard input (MODEL `-`); per-path settings match it.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only the finding lines, no precision table or summary.")
@click.option(
    "--explain",
    is_flag=True,
    help="Under each finding its estimates, assumptions, notes and fix; the full precision recommendation "
    "with the reasons per mode.",
)
@click.option("-v", "--verbose", is_flag=True, help="--explain, and loader notes (shape inference, skipped ops).")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour text output (auto: only on a terminal; honours NO_COLOR and FORCE_COLOR).",
)
def check(
    models,
    fmt,
    output,
    fail_level,
    exit_zero,
    rule_dirs,
    select,
    extend_select,
    ignore,
    tolerance,
    input_range,
    calibration_data,
    config_file,
    isolated,
    baseline,
    write_baseline,
    jobs,
    progress,
    platform_names,
    target_specs,
    mnn_version,
    platform_files,
    snippet_kinds,
    html_link,
    statistics,
    stdin_filename,
    quiet,
    explain,
    verbose,
    color,
) -> None:
    """Lint MODEL files (.onnx, .mnn; directories and globs are walked; `-` reads one model from standard input).

    A configuration file given as MODEL (.precision-lint.yaml, or a pyproject.toml with [tool.precision-lint])
    stands for the models under its directory: the pre-commit hook passes it when only the configuration changed."""
    from ..api import Linter
    from ..workflow.batch import Progress, lint_paths
    from ..workflow.config import load_options
    from ..errors import PrecisionLintError
    from ..workflow.files import ReportFile
    from ..reporters import get_reporter
    from ..reporters.base import RunSummary, file_isolated, repository_root, stop_isolated
    from ..reporters.escape import visible

    if isolated and config_file:
        raise click.UsageError("--config and --isolated exclude each other")
    try:
        options = load_options(config_file, isolated)  # defaults, then the config file; flags override below
    except PrecisionLintError as exc:
        _fail(str(exc))
    options = _with_flags(
        options,
        rule_dirs,
        select,
        extend_select,
        ignore,
        tolerance,
        input_range,
        fail_level,
        baseline,
        mnn_version,
        platform_names,
        target_specs,
        platform_files,
        snippet_kinds,
        fmt,
    )
    declared_ranges = dict(options.input_ranges)
    if html_link is None and output and fmt == "markdown":
        html_link = os.path.splitext(os.path.basename(output))[0] + ".html"
    try:
        reporter_cls = get_reporter(fmt)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    from ..workflow.arguments import resolve

    unlisted: List[str] = []  # directories the walk could not list: the problem per directory

    def cannot_list(directory: str, exc: OSError) -> None:
        unlisted.append(f"{directory}: cannot list the directory ({exc.strerror or exc}); its models are not linted")
        click.echo(visible(f"error: {unlisted[-1]}"), err=True)

    try:
        inputs = resolve(list(models), stdin_filename=stdin_filename, on_error=cannot_list)
    except PrecisionLintError as exc:
        _fail(str(exc))
    for arg in inputs.empty:
        click.echo(visible(f"error: {arg}: no .onnx or .mnn model file found there"), err=True)
    if inputs.empty and not inputs.paths:
        sys.exit(EXIT_ERROR)
    if inputs.display:
        jobs = 1  # the model from stdin is linted in this process, under its reported name
    paths = inputs.paths
    if calibration_data:  # the model as resolved (a file, or stdin's bytes): its observed ranges
        # a declaration (config or --input-range) wins over an observation
        options = replace(options, input_ranges={**_observe(paths, calibration_data, inputs), **declared_ranges})
    if write_baseline and options.baseline:
        options = _unless_replaced(options, write_baseline)
    try:
        linter = Linter(options)
    except PrecisionLintError as exc:
        inputs.cleanup()
        _fail(str(exc))
    try:
        _check_outputs(output, write_baseline, repository_root(), paths, options.baseline)
        out_stream = ReportFile(output, errors=OUTPUT_ERRORS) if output else sys.stdout
    except PrecisionLintError as exc:
        inputs.cleanup()
        _fail(str(exc))
    results = []
    render_failures: List[str] = []  # models a reporter could not render (a bug; they are left out of that report)
    try:
        from ..reporters.recommendation import text_section

        common = {
            "quiet": quiet,
            "explain": explain or verbose,
            "verbose": verbose,
            "rules": linter.rules,
            "options": options,
            "decider": linter.decider,
            "root": repository_root(),
            "text_sections": [text_section],
            "snippet_hint": True,
            "html_link": html_link,
        }
        reporter = reporter_cls(out_stream, dict(common, color=_use_color(color, out_stream)))
        terminal = None
        if output and fmt != "text":  # the report goes to the file, the human summary to the terminal
            terminal = get_reporter("text")(sys.stdout, dict(common, color=_use_color(color, sys.stdout)))
        reporters = [r for r in (reporter, terminal) if r is not None]
        summary = RunSummary(
            judged_for=linter.deployment.judged_formats,
            fail_level=options.fail_level,
            targets=tuple(str(t) for t in linter.deployment.targets),
        )
        for r in reporters:
            r.start()
        # automatic: only for runs that last (0.5 s); --progress: from the first file
        bar = Progress(len(paths), delay=0.0 if progress else 0.5) if Progress.wanted(progress, len(paths)) else None
        for result in lint_paths(linter, paths, jobs, inputs.display):
            if bar is not None:
                bar.clear()
            results.append(result)
            if result.error is not None:
                click.echo(f"error: {visible(result.error.message)}", err=True)
            summary.add(result)
            for r in reporters:
                render_failures += file_isolated(r, result)
            if bar is not None:
                sys.stdout.flush()
                bar.advance(result.path)
        if bar is not None:
            bar.clear()
        summary.failed = _fails(summary, options.fail_level)
        reported_paths = [inputs.display.get(p, p) for p in paths]
        summary.unused_suppressions = _unused_suppressions(options, results, reported_paths)
        for s in summary.unused_suppressions:
            click.echo(visible(f"warning: {s.origin}: suppression ({s.describe()}) matched no finding"), err=True)
        for message in _unused_path_ignores(options, reported_paths):
            click.echo(visible(f"warning: {message}"), err=True)
        # one line per model and unknown name: an error (exit 2) when no model has it (a typo), else a warning
        unknown_ranges = _ranges_no_model_has(options, results)
        # each exits 2: reports say the run did not succeed (SARIF's executionSuccessful, no "All checks passed")
        summary.input_problems = [f"{arg}: no .onnx or .mnn model file found there" for arg in inputs.empty]
        summary.input_problems += unlisted
        for result in results:
            for name, message in zip(result.unknown_input_ranges, result.warnings):
                click.echo(visible(f"{'error' if name in unknown_ranges else 'warning'}: {message}"), err=True)
                if name in unknown_ranges:
                    summary.input_problems.append(message)
        # a rule that failed to evaluate (a user rule comparing a number with a string) found nothing it should have
        rule_failures = [f"{r.path}: {failure}" for r in results for failure in r.rule_failures]
        for message in rule_failures:
            click.echo(visible(f"error: {message}"), err=True)
        summary.input_problems += rule_failures
        for r in reporters:
            render_failures += stop_isolated(r, summary)
        if statistics and (fmt == "text" or output):  # beside the text report, never inside a machine format
            _print_statistics(results, out_stream if fmt == "text" else sys.stdout)
        for line in render_failures:
            click.echo(f"error: {line}", err=True)
    finally:
        if output:
            out_stream.close()
        inputs.cleanup()
    if output and out_stream.problem:
        _fail(out_stream.problem)
    if write_baseline:
        from ..workflow.baseline import all_findings, write_baseline as write

        try:
            n = write(write_baseline, all_findings(results))
        except PrecisionLintError as exc:
            _fail(str(exc))
        click.echo(
            f"precision-lint: wrote {n} finding{'s' if n != 1 else ''} to the baseline {write_baseline}", err=True
        )
    errors = summary.unreadable or inputs.empty or unknown_ranges or render_failures or unlisted or rule_failures
    if write_baseline:  # findings do not fail a run that records them; errors do, as in any run
        sys.exit(EXIT_ERROR if errors else EXIT_CLEAN)
    if errors:
        sys.exit(EXIT_ERROR)
    if summary.failed and not exit_zero:
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_CLEAN)


def _unless_replaced(options, write_baseline: str):
    """``options`` without its baseline when --write-baseline is about to replace that very file and it cannot be
    read (missing, corrupt, an old version): the errors say "write it again with --write-baseline", which must then
    work, also with ``baseline:`` in the configuration.  A readable one still hides the findings it records."""
    from ..errors import ConfigError
    from ..workflow.baseline import load_baseline

    if os.path.realpath(write_baseline) != os.path.realpath(options.baseline):
        return options
    try:
        load_baseline(options.baseline)
    except ConfigError:
        return replace(options, baseline=None)
    return options


def _check_outputs(output, write_baseline, root, models: Sequence[str] = (), baseline=None) -> None:
    """Reports and baselines are written where the user said, never through a symlink out of the project, and
    never over a model of this run (`-o model.onnx` would truncate it before it is read) nor the report over a
    baseline (the one in force, or the one being written: one of the two files would be lost)."""
    from ..errors import ConfigError
    from ..workflow.files import check_output_path

    if output:
        for other, what in ((baseline, "the baseline in force"), (write_baseline, "the --write-baseline file")):
            if other and os.path.realpath(output) == os.path.realpath(other):
                raise ConfigError(f"{output}: -o names {what}; the report is not written over it")
    linted = {os.path.realpath(m) for m in models if os.path.isfile(m)}
    for flag, path, what in (("-o", output, "report"), ("--write-baseline", write_baseline, "baseline")):
        if not path:
            continue
        if os.path.realpath(path) in linted:
            raise ConfigError(f"{path}: {flag} names a model this run lints; the {what} is not written over it")
        check_output_path(path, what, root)


def _with_flags(
    options,
    rule_dirs,
    select,
    extend_select,
    ignore,
    tolerance,
    input_range,
    fail_level,
    baseline,
    mnn_version,
    platform_names,
    target_specs,
    platform_files,
    snippet_kinds,
    fmt,
):
    """``options`` (defaults and configuration) with the command line's flags over them: a new Options."""
    options = _with_deployment_flags(options, mnn_version, platform_files)
    changes: Dict[str, Any] = {"rule_dirs": tuple(options.rule_dirs) + tuple(rule_dirs)}
    origins = dict(options.origins)  # a value the command line gives no longer comes from the config file
    for key, value in (("select", _split_csv(select)), ("ignore", _split_csv(ignore))):
        if value:
            changes[key] = value
            origins.pop(key, None)
    if extend_select:  # ruff's meaning: added to the selection in force (with none, every rule runs already)
        _check_rule_patterns(replace(options, rule_dirs=changes["rule_dirs"]), _split_csv(extend_select))
        chosen = changes.get("select", options.select)
        if chosen:
            changes["select"] = tuple(chosen) + _split_csv(extend_select)
    tolerances = dict(options.tolerances)
    for name, value in parse_tolerances(tolerance).items():
        if "." not in name:  # the flag overrides the file's RULE.NAME too, not only its NAME
            for key in [k for k in tolerances if k.endswith("." + name) and f"tolerances.{k}" in origins]:
                del tolerances[key]
                origins.pop(f"tolerances.{key}")
        tolerances[name] = value
        origins.pop(f"tolerances.{name}", None)
    changes["input_ranges"] = {**options.input_ranges, **parse_input_ranges(input_range)}
    changes["fail_level"] = fail_level or options.fail_level
    if baseline:
        changes["baseline"] = baseline
    if platform_names:
        changes["platforms"] = _split_csv(platform_names)
        origins.pop("platforms", None)
    if target_specs:
        changes["targets"] = _split_csv(target_specs)
        origins.pop("targets", None)
    if snippet_kinds == "auto":
        snippet_kinds = "all" if (platform_names or target_specs or fmt == "json") else "none"  # as --help says
    changes["snippets"] = _split_csv([snippet_kinds])
    changes["identity"] = fmt in ("markdown", "html")  # review reports name the exact file signed off
    changes["neighbourhoods"] = fmt == "html"  # the subgraph drawn per finding
    return replace(options, tolerances=tolerances, origins=origins, **changes)


def _with_deployment_flags(options, mnn_version, platform_files):
    """``options`` with --mnn-version over the configuration's and --platforms-file after its files (check, verify
    and `platforms` read them alike)."""
    origins = dict(options.origins)
    changes: Dict[str, Any] = {"platform_files": tuple(options.platform_files) + tuple(platform_files)}
    if mnn_version is not None:  # no longer set where the configuration said
        changes["mnn_version"] = mnn_version
        origins.pop("mnn_version", None)
    return replace(options, origins=origins, **changes)


def _unused_suppressions(options, results, paths):
    if not options.suppressions:
        return []
    from ..workflow.suppress import unused_suppressions

    used = {s for r in results for _, s in r.suppressed}
    return unused_suppressions(options.suppressions, used, paths, options.root)


def _check_rule_patterns(options, patterns) -> None:
    """--extend-select names rules that exist (the Linter checks --select and the configuration itself)."""
    from ..engine.rules import load_rules
    from ..workflow.selectors import check_rule_ids
    from ..errors import PrecisionLintError

    try:
        check_rule_ids(load_rules(options.rule_dirs), patterns, "--extend-select")
    except PrecisionLintError as exc:
        _fail(str(exc))


def _unused_path_ignores(options, paths) -> List[str]:
    """per_path_ignores globs that match no linted model and no model under the project root (a typo)."""
    if not options.per_path_ignores:
        return []
    from ..workflow.suppress import _models_under, path_matches, relative_path

    rel = [relative_path(p, options.root) for p in paths]
    on_disk = None
    out = []
    for pattern in options.per_path_ignores:
        if any(path_matches(pattern, r) for r in rel):
            continue
        if on_disk is None:
            on_disk = _models_under(options.root or os.getcwd())
        if not any(path_matches(pattern, r) for r in on_disk):
            where = options.origins.get(f"per_path_ignores.{pattern}", "per_path_ignores")
            out.append(f"{where}: matches no model file")
    return out


def _ranges_no_model_has(options, results) -> List[str]:
    """Declared input ranges that name a tensor of none of the models read: a typo, not another model's input."""
    read = [r for r in results if r.error is None]
    if not read:
        return []
    return [n for n in options.input_ranges if all(n in r.unknown_input_ranges for r in read)]


def _print_statistics(results, stream) -> None:
    """ruff/flake8 --statistics: count, rule id, rule name, per rule, most frequent first."""
    counts: Dict[Tuple[str, str], int] = {}
    for r in results:
        for f in r.reported:
            counts[(f.rule_id, f.rule_name)] = counts.get((f.rule_id, f.rule_name), 0) + 1
    width = len(str(max(counts.values(), default=0)))
    for (rid, name), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        stream.write(f"{n:>{width}}  {rid}  {name}\n")


def _fails(summary, fail_level: str) -> bool:
    order = ("info", "warning", "error")
    return any(summary.counts.get(lvl, 0) for lvl in order[order.index(fail_level) :])


def _fail(message: str) -> None:
    from ..reporters.escape import visible  # a path in the message may hold a newline or escape codes

    click.echo(f"error: {visible(message)}", err=True)
    sys.exit(EXIT_ERROR)


def _rule_dirs(rule_dirs, config_file, isolated) -> Tuple[str, ...]:
    """--rules directories plus the configuration's rule_dirs, as `check` sees them."""
    from ..workflow.config import load_options

    return tuple(load_options(config_file, isolated).rule_dirs) + tuple(rule_dirs)


_config_options = [
    click.option(
        "--rules",
        "rule_dirs",
        multiple=True,
        type=click.Path(exists=True),
        help="Extra rule directory or file (repeatable).",
    ),
    click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Read rule_dirs from FILE instead of the nearest configuration.",
    ),
    click.option("--isolated", is_flag=True, help="Ignore configuration files."),
]


def _with_config_options(f):
    for option in reversed(_config_options):
        f = option(f)
    return f


@cli.command("rules")
@_with_config_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def rules_cmd(rule_dirs, config_file, isolated, fmt) -> None:
    """List the rules (built in, and from --rules or the configuration's rule_dirs): id, class, name, summary."""
    from ..errors import PrecisionLintError
    from ..reporters.explain import list_rules

    try:
        click.echo(list_rules(_rule_dirs(rule_dirs, config_file, isolated), fmt), nl=False)
    except PrecisionLintError as exc:
        _fail(str(exc))


@cli.command("platforms")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--platforms-file",
    "platform_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Extra or overriding platform table (YAML; repeatable).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read platform_files and platform_overrides from FILE.",
)
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Per-op facts, approximations, CPU fallbacks and sources.")
def platforms_cmd(names, platform_files, config_file, isolated, fmt, verbose) -> None:
    """List the platforms and what each MNN precision mode does on them (storage, arithmetic, accumulation)."""
    from ..workflow.config import load_options
    from ..errors import PrecisionLintError
    from ..deploy.platforms import options_table
    from ..reporters.recommendation import platforms_output

    try:
        # as check reads them: the config's platform files, then the flag's
        table = options_table(_with_deployment_flags(load_options(config_file, isolated), None, platform_files))
        click.echo(platforms_output(table.select(_split_csv(names), "platform"), fmt, verbose), nl=False)
    except PrecisionLintError as exc:
        _fail(str(exc))


@cli.command("rule")
@click.argument("rule_id")
@_with_config_options
def rule_cmd(rule_id, rule_dirs, config_file, isolated) -> None:
    """Explain one rule (by id or name): what it finds, why, an example, the fix, its tolerances."""
    from ..errors import PrecisionLintError
    from ..reporters.explain import explain_rule

    try:
        click.echo(explain_rule(rule_id, _rule_dirs(rule_dirs, config_file, isolated)), nl=False)
    except PrecisionLintError as exc:
        _fail(str(exc))


@cli.command("test-rules")
@click.argument("rule_dirs", nargs=-1, type=click.Path(exists=True), metavar="[DIR_OR_FILE]...")
@click.option("--select", multiple=True, help="Only these rule ids, prefixes or names, comma-separated.")
@click.option("-v", "--verbose", is_flag=True, help="Also list the cases that pass.")
def test_rules_cmd(rule_dirs, select, verbose) -> None:
    """Run rules' own test cases: the rules in DIR_OR_FILE..., or the built-in rules when none is given.

    Each case's model is built from its ONNX text, linted with only its rule selected (converted to .mnn first
    when the case says `convert:`), and must give exactly the expected findings.  Exit 1 when a case fails."""
    from ..engine import rule_tests
    from ..errors import PrecisionLintError
    from ..reporters.escape import visible

    try:
        results = []
        for r in rule_tests.run(tuple(rule_dirs), builtin=not rule_dirs, select=_split_csv(select)):
            results.append(r)
            if not r.passed or r.skipped or verbose:
                mark = "skip" if r.skipped else "ok  " if r.passed else "FAIL"
                click.echo(
                    f"{mark} {r.rule_id} #{r.index} {visible(r.name)}"
                    + (f": {visible(r.skipped)}" if r.skipped else "")
                )
            for problem in r.problems:
                click.echo(f"     {visible(problem)}")
        from ..engine.rules import load_rules
        from ..workflow.selectors import select_rules

        rules = load_rules(tuple(rule_dirs), builtin=not rule_dirs)
        coverage = rule_tests.coverage_problems(select_rules(rules, _split_csv(select)))
    except PrecisionLintError as exc:
        _fail(str(exc))
    for problem in coverage:
        click.echo(f"FAIL {visible(problem)}")
    failed = sum(not r.passed for r in results)
    skipped = sum(bool(r.skipped) for r in results)
    click.echo(
        f"{len({r.rule_id for r in results})} rule(s), {len(results)} case(s): {failed} failing"
        + (f", {skipped} skipped" if skipped else "")
        + (f", {len(coverage)} rule(s) lacking a case" if coverage else "")
    )
    sys.exit(1 if failed or coverage else 0)


@cli.command("new-rule")
@click.argument("rule_id")
@click.argument("name")
@click.option(
    "-d",
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to write RULE_ID-NAME.yaml.",
)
def new_rule_cmd(rule_id, name, directory) -> None:
    """Start a rule: write a commented template with one triggering and one clean test case.

    Run its cases with `precision-lint test-rules DIR`, and lint with it with `--rules DIR`."""
    import re as _re

    from ..engine.rule_tests import new_rule_text

    if not _re.fullmatch(r"[A-Z]{1,3}[0-9]{3}", rule_id):
        _fail(f"rule id {rule_id!r}: use one to three capital letters and three digits, e.g. Z001")
    if not _re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name):
        _fail(f"rule name {name!r}: use lower-case words joined by '-', e.g. exp-overflow")
    from ..engine.rules import load_rules

    taken = {r.id: r for r in load_rules()} | {r.name: r for r in load_rules()}
    if rule_id in taken or name in taken:
        clash = taken.get(rule_id) or taken[name]
        _fail(
            f"{rule_id if rule_id in taken else name}: already built-in rule {clash.id} {clash.name}; "
            f"choose another id and name"
        )
    path = os.path.join(directory, f"{rule_id}-{name}.yaml")
    if os.path.lexists(path):
        _fail(f"{path}: already exists; not overwritten")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(new_rule_text(rule_id, name))
    except OSError as exc:
        _fail(f"{path}: cannot write: {exc.strerror or exc}")
    click.echo(f"wrote {path}; run its cases with: precision-lint test-rules {directory}")


def _escape_undecodable(exc: UnicodeError):
    """Codec error handler: a byte of a file name that is not UTF-8 (a lone surrogate after surrogateescape)
    prints as ``\\xff``, any other unencodable character as ``\\uXXXX``: output stays valid UTF-8 and says
    which bytes the name holds."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(
        f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else f"\\u{ord(c):04x}" for c in bad
    ), exc.end


OUTPUT_ERRORS = "precision-lint-escape"
codecs.register_error(OUTPUT_ERRORS, _escape_undecodable)  # at import: `check` opens -o files with it


def _escaping_output() -> None:
    """Every stream the CLI writes escapes what its encoding cannot hold (``-o`` files are opened the same way)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors=OUTPUT_ERRORS)
        except (AttributeError, ValueError, OSError):  # not a TextIOWrapper (an embedding host's stream)
            pass


@cli.command("verify")
@click.argument("model", metavar="MODEL")
@click.option(
    "--target",
    "target_specs",
    multiple=True,
    metavar="PLATFORM:MODE",
    help="Deployment to measure (repeatable, comma-separated).  [default: the configuration's targets, else ios-cpu:low]",
)
@click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Input values: .npz keyed by input name, or .npy for a one-input model.  [default: seeded "
    "random values from --input-range and what the graph implies; the image a GridSample/Resize/RoiAlign reads "
    "is a photograph]",
)
@click.option(
    "--input-range",
    multiple=True,
    metavar="NAME=LO:HI",
    help="Range of a generated input, e.g. image=0:1 (repeatable).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=None,
    metavar="REL_L2",
    help="Largest acceptable rel-L2 error of a tensor against Precision_High.  [default: 0.01]",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "markdown", "html"]),
    default="text",
    show_default=True,
    help="text and json: the verify report; sarif, markdown and html: the lint report "
    "of the model with each finding's measured verdict (and, in html, the "
    "measured error per node drawn along the graph).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write the report to FILE (the text summary still goes to the terminal).",
)
@click.option("--timings", is_flag=True, help="Add the time of each step to the JSON report (text always shows it).")
@click.option(
    "--qemu-cpu",
    default="max",
    show_default=True,
    metavar="CPU",
    help="QEMU CPU model for ARM runs; `cortex-a72` (no fp16 arithmetic) is a control that must be refused.",
)
@click.option(
    "--no-lint",
    is_flag=True,
    help="Measure only: do not run the static rules on the model (nor judge the known MNN bugs their findings "
    "carry: the recommendation follows the runs alone).",
)
@click.option(
    "--emulate",
    is_flag=True,
    help="Emulate every target from the platform table (an .onnx), the ARM CPUs too, instead of running "
    "their kernels: to compare the emulation with a measured run.",
)
@click.option(
    "--storage-only",
    is_flag=True,
    help="Emulations round the storage formats only (arithmetic and accumulation kept fp32: the lower bound).",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show the current step on stderr.  [default: on a terminal]"
)
@click.option(
    "--mnn-version",
    metavar="VERSION",
    help="The MNN version you deploy: which known kernel bugs the findings and recommendation judge "
    "(config key mnn_version).  The runs use the MNN that `setup-arm` installed.",
)
@click.option(
    "--platforms-file",
    "platform_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Extra or overriding platform table (YAML; repeatable): targets on its platforms are emulated.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read configuration from FILE instead of the nearest one above the working directory.",
)
@click.option("--isolated", is_flag=True, help="Ignore configuration files.")
def verify_cmd(
    model,
    target_specs,
    inputs_file,
    input_range,
    tolerance,
    fmt,
    output,
    timings,
    qemu_cpu,
    no_lint,
    emulate,
    storage_only,
    progress,
    mnn_version,
    platform_files,
    config_file,
    isolated,
) -> None:
    """Run MODEL (.mnn, or .onnx converted with MNN's converter) on MNN's real kernels at each target's precision
    and at Precision_High, and report the error per output and per node.

    \b
    ios-cpu and android-cpu-armv82 run MNN's Arm82 fp16 kernels under QEMU (set up once with
    `precision-lint setup-arm`); a Low run counts only if MNN reported fp16:1.  android-cpu-armv80 runs the plain
    ARM kernels (QEMU cortex-a72).  x86-cpu computes fp32 in every mode: nothing to verify.  GPU/NPU targets of an
    .onnx are emulated from the platform table (its storage, arithmetic and accumulation formats per op; never
    called measured).  An .onnx is also checked against ONNX Runtime.  Details: docs/verify.md.

    The project's configuration applies as for `check`: its targets (when no --target is given), input_ranges,
    rules, tolerances, suppressions, platform tables and mnn_version.

    Exit codes: 0 within tolerance (or nothing could run: a target MNN cannot run is not verifiable), 1 an error
    over tolerance, measured or emulated (the node where it starts is named), or the converter check failed, or a
    run within tolerance that a known MNN bug changing from run to run still blocks, 2 bad input, set-up missing, or
    fp16 not active on a Low target.
    """
    from ..errors import PrecisionLintError
    from ..workflow.files import ReportFile
    from ..reporters.base import repository_root
    from ..reporters.verify_report import to_json, to_text
    from ..verify.run import verify
    from ..verify.metrics import DEFAULT_TOLERANCE
    from ..workflow.config import load_options

    if tolerance is not None and tolerance != tolerance:  # FloatRange lets NaN through: it would pass every error
        raise click.BadParameter("NaN is not a tolerance", param_hint="--tolerance")
    if isolated and config_file:
        raise click.UsageError("--config and --isolated exclude each other")
    targets = _split_csv(target_specs)
    try:
        _check_outputs(output, None, repository_root(), [model])
        options = _with_deployment_flags(load_options(config_file, isolated), mnn_version, platform_files)
    except PrecisionLintError as exc:
        _fail(str(exc))

    show = sys.stderr.isatty() if progress is None else progress
    width = [0]

    def status(message: str) -> None:
        line = f"verify: {message}"[:100]
        sys.stderr.write("\r" + line.ljust(width[0]))
        sys.stderr.flush()
        width[0] = len(line)

    try:
        result = verify(
            model,
            targets,
            inputs_file,
            parse_input_ranges(input_range),
            DEFAULT_TOLERANCE if tolerance is None else tolerance,
            qemu_cpu,
            lint=not no_lint,
            progress=status if show else None,
            review=fmt in ("markdown", "html"),
            emulate=emulate,
            storage_only=storage_only,
            options=options,
        )
    except PrecisionLintError as exc:
        if width[0]:
            sys.stderr.write("\r" + " " * width[0] + "\r")
        _fail(str(exc))
    if width[0]:
        sys.stderr.write("\r" + " " * width[0] + "\r")
    if fmt in ("text", "json"):
        report, failures = (to_json(result, timings) if fmt == "json" else to_text(result)), []
    else:
        report, failures = _verify_lint_report(result, fmt)
    if output:
        try:
            stream = ReportFile(output, errors=OUTPUT_ERRORS)
        except PrecisionLintError as exc:
            _fail(str(exc))
        stream.write(report)
        stream.close()
        if stream.problem:
            _fail(stream.problem)
        if fmt != "text":
            click.echo(to_text(result), nl=False)
    else:
        click.echo(report, nl=False)
    for line in failures:
        click.echo(f"error: {line}", err=True)
    sys.exit(result.exit_code)


def _verify_lint_report(result, fmt) -> Tuple[str, List[str]]:
    """A verify result rendered by a lint reporter (sarif, markdown, html): (document, lines of models left out)."""
    import io

    from ..api import Linter
    from ..reporters import get_reporter
    from ..reporters.base import RunSummary, file_isolated, repository_root, stop_isolated
    from ..verify.review import as_lint_result

    options = result.options  # the project's, for the targets that ran (verify.run.lint_options)
    linter = Linter(options)
    buffer = io.StringIO()
    reporter = get_reporter(fmt)(
        buffer,
        {
            "rules": linter.rules,
            "options": options,
            "decider": linter.decider,
            "root": repository_root(),
            "explain": True,
        },
    )
    lint_result = as_lint_result(result)
    summary = RunSummary(
        judged_for=linter.deployment.judged_formats, targets=tuple(str(t) for t in linter.deployment.targets)
    )
    summary.add(lint_result)
    reporter.start()
    failures = file_isolated(reporter, lint_result)
    failures += stop_isolated(reporter, summary)
    return buffer.getvalue(), failures


@cli.command("setup-arm")
@click.option(
    "--mnn-version",
    default=None,
    metavar="VERSION",
    help="The MNN release to fetch for aarch64.  [default: the version the platform table was checked against]",
)
@click.option("--force", is_flag=True, help="Rebuild the environment even if one is already set up.")
def setup_arm_cmd(mnn_version, force) -> None:
    """Set up MNN's ARMv8.2 fp16 kernels for `verify` on this x86-64 machine, once.

    \b
    Installs Debian's qemu-user-static with apt-get if it is missing (as root; otherwise it says the command),
    then, under $PRECISION_LINT_ARM_CACHE (default: $XDG_CACHE_HOME or ~/.cache, /precision-lint/arm82):
    Debian's arm64 python3 and C++ runtime (apt-get --download-only in a private apt root, unpacked with
    dpkg -x; the host's dpkg is untouched) and PyPI's aarch64 wheels of MNN and numpy (pip download).
    About 200 MB; offline afterwards.  The versions fetched are recorded in manifest.json there.
    """
    from ..verify.arm_setup import DEFAULT_MNN_VERSION, setup
    from ..errors import PrecisionLintError

    try:
        setup(mnn_version or DEFAULT_MNN_VERSION, force=force, say=lambda m: click.echo(f"setup-arm: {m}", err=True))
    except PrecisionLintError as exc:
        _fail(str(exc))


def main(argv: Optional[Sequence[str]] = None) -> None:
    _escaping_output()
    try:
        cli.main(args=list(sys.argv[1:] if argv is None else argv), prog_name="precision-lint")
    except RecursionError:
        _fail("input nests too deeply to read")
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - a linter in CI prints one line, never a traceback
        import errno

        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EPIPE, errno.EIO):
            # standard output is full, closed or gone (`> /dev/full`, a closed pipe): say so, once, on stderr
            try:
                sys.stdout = open(os.devnull, "w")  # what is still buffered must not fail again at exit
            except OSError:
                pass
            _fail(f"cannot write the report to standard output: {exc.strerror or exc}")
        if os.environ.get("PRECISION_LINT_DEBUG"):
            raise
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        _fail(
            f"internal error ({type(exc).__name__}: {detail}); please report it (PRECISION_LINT_DEBUG=1 shows the "
            f"traceback)"
        )


if __name__ == "__main__":
    main()
