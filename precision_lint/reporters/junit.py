"""JUnit XML for CI systems that show test reports (GitLab, Jenkins, Azure DevOps...).

One ``<testsuite>`` per model; each finding is a failing ``<testcase>`` (classname = model path, name = rule and
node); a model without findings has one passing testcase; an unreadable model has one ``<error>``.  Failures are the
findings at or above ``--fail-level``; findings below it are reported as passing testcases with the finding in
``<system-out>``, so the report agrees with the exit code.  No timestamps or durations: the file is deterministic.
"""

from __future__ import annotations

from typing import List
from xml.sax.saxutils import escape, quoteattr

from ..results import at_least
from .base import Reporter, RunSummary, report_path
from .escape import visible


def _attrs(**kv) -> str:
    return " ".join(f"{k}={quoteattr(visible(v))}" for k, v in kv.items())


class JunitReporter(Reporter):
    def stop(self, summary: RunSummary) -> None:
        root = self.options.get("root") or "."
        fail_level = summary.fail_level
        suites: List[str] = []
        total = total_fail = total_err = 0
        for res in self.results:
            path = report_path(res.path, root)
            cases: List[str] = []
            failures = errors = 0
            if res.error is not None:
                errors = 1
                cases.append(
                    f"    <testcase {_attrs(classname=path, name='read model')}>\n"
                    f"      <error {_attrs(message=res.error.message, type='unreadable-model')}/>\n"
                    f"    </testcase>"
                )
            elif not res.reported:
                cases.append(f"    <testcase {_attrs(classname=path, name='precision-lint')}/>")
            for f in res.reported:
                where = f"node '{f.node}'" + (f" in {f.scope}" if f.scope else "")
                name = f"{f.rule_id} {f.rule_name} {where}"
                est = "; ".join(
                    f"{k}: {v.value:.3g} {v.unit}".rstrip() for k, v in f.labelled_estimates() if v.value is not None
                )
                body = "\n".join(
                    visible(x)
                    for x in (
                        f"{where} ({f.op}): {f.message}",
                        f"level: {f.level}",
                        f"estimate: {est}" if est else "",
                        f"fix: {' '.join(f.fix.split())}",
                    )
                    if x
                )
                if at_least(f.level, fail_level):
                    failures += 1
                    cases.append(
                        f"    <testcase {_attrs(classname=path, name=name)}>\n"
                        f"      <failure {_attrs(message=f.message, type=f.level)}>{escape(body)}</failure>\n"
                        f"    </testcase>"
                    )
                else:
                    cases.append(
                        f"    <testcase {_attrs(classname=path, name=name)}>\n"
                        f"      <system-out>{escape(body)}</system-out>\n"
                        f"    </testcase>"
                    )
            total += len(cases)
            total_fail += failures
            total_err += errors
            suites.append(
                f"  <testsuite {_attrs(name=path, tests=len(cases), failures=failures, errors=errors)}>\n"
                + "\n".join(cases)
                + "\n  </testsuite>"
            )
        self.write('<?xml version="1.0" encoding="UTF-8"?>')
        self.write(f"<testsuites {_attrs(name='precision-lint', tests=total, failures=total_fail, errors=total_err)}>")
        for s in suites:
            self.write(s)
        self.write("</testsuites>")
