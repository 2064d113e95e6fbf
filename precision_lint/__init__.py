"""precision-lint: find the operators whose results change with numeric precision, before deployment."""

__version__ = "0.1.0"

__all__ = ["lint", "Linter", "Options", "LintResult", "ModelLoadError", "PrecisionLintError", "__version__"]


def __getattr__(name):
    # Lazy: `import precision_lint` stays cheap for the CLI's start-up and for `--version`.
    if name in ("lint", "Linter", "Options", "LintResult"):
        from . import api

        return getattr(api, name)
    if name in ("ModelLoadError", "PrecisionLintError"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(name)
