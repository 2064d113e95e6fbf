"""Names vulture (the dead-code check in .ci/run) cannot see used: reached by name or through another library.

    vulture precision_lint tools benchmarks tests calibration sample_models --min-confidence 60 \
        --ignore-names 'f_*,test_*' --ignore-decorators '@cli.command,@click.*,@property,@pytest.fixture'

(rule-view fields ``f_*`` are reached by the expression interpreter, tests and fixtures by pytest, commands by click)
"""

# Reporters are registered by module and class name (precision_lint/reporters/__init__.py: REPORTERS).
GithubReporter, GitlabReporter, HtmlReporter, JsonReporter, JunitReporter, SarifReporter, TextReporter  # noqa
# click calls these on the group class.
format_usage  # noqa
# Module __getattr__ (lazy public API) and onnxruntime session options set as attributes.
__getattr__  # noqa
log_severity_level, graph_optimization_level  # noqa
# A dataclass field kept for the kernel-bug data (documented in known_issues.yaml), and a parameter kept for the
# estimators' common signature.
dtypes, max_log2, exponent_bits  # noqa
# Tests: pytest's module marks, html.parser callbacks, a reporter registered by name, names read for their shape.
pytestmark, handle_starttag, handle_startendtag, handle_endtag, handle_data, MarkdownFailingOnBad  # noqa
DT_INT32, if_op  # noqa
# onnx_proto.py: the attribute `import onnx` sets on the package for a submodule it loads (read by onnx's users).
onnx_cpp2py_export  # noqa
