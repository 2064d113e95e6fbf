"""The HTML report (parsed with html.parser, rendered with headless Chromium), the neighbourhood it draws, the
layered layout, the measured-error chart, node identity in every format, and the review checklist's additions."""

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"
GRIDSAMPLE = SAMPLES / "gridsample_large.onnx"
FLOW_WARP = SAMPLES / "architectures" / "flow_warp.onnx"
BERT = SAMPLES / "architectures" / "bert_tiny.onnx"

HOSTILE = '<script>alert("x")</script>'
# A GridSample whose grid comes from an Add: every name is markup.
HOSTILE_MODEL = """
<ir_version: 8, opset_import: ["" : 16]>
g (float[1,3,1024,1024] x, float[1,256,256,2] base) => (float[1,3,256,256] y) {
    two = Constant <value = float[1] {2.0}> ()
    g1 = Add (base, two)
    y = GridSample <align_corners=0> (x, g1)
}
"""


def run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "precision_lint", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env=env,
    )
    return proc.returncode, proc.stdout, proc.stderr


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []
        self.content = []  # text and child nodes in document order

    def iter(self, tag=None):
        if tag is None or self.tag == tag:
            yield self
        for c in self.children:
            yield from c.iter(tag)

    def all_text(self):
        return "".join(c if isinstance(c, str) else c.all_text() for c in self.content)

    def classes(self):
        return set((self.attrs.get("class") or "").split())


class TreeBuilder(HTMLParser):
    """A DOM-like tree from html.parser; void elements do not nest."""

    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        self.cur.content.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        self.cur.content.append(node)

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.content.append(data)


def parse(text):
    b = TreeBuilder()
    b.feed(text)
    b.close()
    return b.root


def hostile_model(tmp_path):
    import onnx
    import onnx.parser

    m = onnx.parser.parse_model(HOSTILE_MODEL)
    names = {"g1": HOSTILE + "grid", "x": '"><img src=x onerror=alert(1)>', "y": "y&amp;<u>"}
    for n in m.graph.node:
        n.input[:] = [names.get(i, i) for i in n.input]
        n.output[:] = [names.get(o, o) for o in n.output]
    m.graph.node[1].name = "add</title><script>alert(2)</script>"
    m.graph.node[2].name = HOSTILE
    for v in list(m.graph.input) + list(m.graph.output):
        v.name = names.get(v.name, v.name)
    path = tmp_path / "hostile.onnx"
    onnx.save(m, str(path))
    return path


def html_report(paths, tmp_path, *extra):
    out = tmp_path / "report.html"
    code, stdout, err = run("--isolated", "--format", "html", "-o", out, *extra, *paths)
    assert code in (0, 1), err
    return out.read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------- the page
def test_html_report_parses_and_draws_every_finding_with_its_culprit(tmp_path):
    text = html_report([GRIDSAMPLE, FLOW_WARP], tmp_path, "--target", "ios-cpu:low")
    doc = parse(text)
    assert not list(doc.iter("script")) and not list(doc.iter("link"))  # self-contained, nothing runs
    assert "http" not in "".join(n.attrs.get("src", "") for n in doc.iter())
    sections = [s for s in doc.iter("section") if "model" in s.classes()]
    assert len(sections) == 2
    findings = json.loads(run("--isolated", "--format", "json", "--target", "ios-cpu:low", GRIDSAMPLE, FLOW_WARP)[1])
    expected = [f["node"] for file in findings["files"] for f in file["findings"]]
    articles = [a for a in doc.iter("article") if "finding" in a.classes()]
    assert [a.attrs["data-node"] for a in articles] == expected and len(expected) == 3
    for a in articles:
        svgs = list(a.iter("svg"))
        assert len(svgs) == 1
        culprits = [g for g in svgs[0].iter("g") if "culprit" in g.classes()]
        assert len(culprits) == 1 and culprits[0].attrs["data-node"] == a.attrs["data-node"]
        assert a.attrs["data-node"] in culprits[0].all_text()
    # the seed model: both inputs drawn, with their shapes on the edges into the GridSample
    seed = articles[0]
    inputs = {g.attrs["data-node"] for g in seed.iter("g") if "io" in g.classes()}
    assert inputs == {"image", "grid", "warped"}
    boxes = {g.attrs["data-node"]: g.all_text() for g in seed.iter("g")}
    assert "f32[1,3,1024,1024]" in boxes["image"] and "f32[1,256,256,2]" in boxes["grid"]
    labels = {t.all_text() for t in seed.iter("text") if "elabel" in t.classes()}
    assert labels == {"f32[1,3,256,256]"}  # the GridSample's output; inputs carry their type in their box
    # flow_warp: the grid's producers (the mesh arithmetic from the flow input) are drawn
    warp = articles[1]
    ops = [t.all_text() for g in warp.iter("g") if "op" in g.classes() for t in g.iter("text") if "t" in t.classes()]
    assert {"Add", "Concat", "Div", "Sub"} <= set(ops)
    assert "flow" in {g.attrs["data-node"] for g in warp.iter("g") if "io" in g.classes()}
    # the summary: one row per model with the verdict for the declared target
    summary = next(t for t in doc.iter("table") if "summary" in t.classes())
    rows = list(summary.iter("tr"))[1:]
    assert len(rows) == 2 and all("unsafe" in r.all_text() for r in rows)
    # the deployment code for the declared target's platform, collapsed
    (block,) = sections[0].iter("details")
    assert next(block.iter("summary")).all_text() == "Deployment code for ios-cpu (Precision_Normal)"
    assert [p.all_text() for p in block.iter("p")] == [
        "C++ Session API",
        "C++ Module API",
        "Python",
        "MNN command-line tools",
    ]
    assert "Precision_Normal" in "".join(c.all_text() for c in block.iter("code"))
    # identity of the exact file
    assert hashlib.sha256(GRIDSAMPLE.read_bytes()).hexdigest() in sections[0].all_text()


def test_hostile_names_are_text_in_the_html(tmp_path):
    path = hostile_model(tmp_path)
    text = html_report([path], tmp_path)
    doc = parse(text)
    assert not list(doc.iter("script")) and not list(doc.iter("img")) and not list(doc.iter("u"))
    article = next(a for a in doc.iter("article") if "finding" in a.classes())
    assert article.attrs["data-node"] == HOSTILE
    culprit = next(g for g in article.iter("g") if "culprit" in g.classes())
    assert HOSTILE in culprit.all_text()  # shown as text, not run
    names = {g.attrs["data-node"] for g in article.iter("g")}
    assert "add</title><script>alert(2)</script>" in names and '"><img src=x onerror=alert(1)>' in names
    assert "y&amp;<u>" in names  # an entity in a name stays the five characters it is
    # each SVG is well-formed XML on its own (an SVG viewer or an editor can take it)
    start = text.index('<svg xmlns="http://www.w3.org/2000/svg" class="graph"')
    ET.fromstring(text[start : text.index("</svg>", start) + 6])


def test_control_and_bidi_characters_in_names_are_shown_escaped_and_every_svg_stays_xml(tmp_path):
    import onnx

    m = onnx.load(str(GRIDSAMPLE))
    m.graph.node[0].name = "warp\x1b[31m\u202eevil\x07\nnext"
    path = tmp_path / "controls\x1b[2J.onnx"
    onnx.save(m, str(path))
    text = html_report([path], tmp_path)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202e]", text), "raw control or bidi character"
    article = next(a for a in parse(text).iter("article") if "finding" in a.classes())
    assert article.attrs["data-node"] == "warp\\x1b[31m\\u202eevil\\x07\nnext"  # a line break is text in HTML
    assert "controls\\x1b[2J.onnx" in text
    start = text.index('<svg xmlns="http://www.w3.org/2000/svg" class="graph"')
    ET.fromstring(text[start : text.index("</svg>", start) + 6])


def test_same_results_give_the_same_html_bytes(tmp_path):
    from precision_lint.api import Linter, Options
    from precision_lint.reporters import get_reporter
    from precision_lint.reporters.base import RunSummary

    def render():
        linter = Linter(Options(identity=True, neighbourhoods=True))
        stream = io.StringIO()
        reporter = get_reporter("html")(stream, {"rules": linter.rules, "root": str(ROOT), "use_dot": False})
        summary = RunSummary()
        for p in (GRIDSAMPLE, FLOW_WARP):
            result = linter.lint_file(str(p))
            summary.add(result)
            reporter.file(result)
        reporter.stop(summary)
        return stream.getvalue()

    first = render()
    assert first == render()
    assert 'data-layout="python"' in first


# ------------------------------------------------------------------------------------------ the neighbourhood
def _branches_model(branches=30, length=7):
    """A GridSample whose grid sums ``branches`` chains of ``length`` unary ops from one input."""
    from onnx import TensorProto, helper

    unary = ["Relu", "Neg", "Abs", "Sigmoid", "Tanh", "Floor", "Ceil"]
    nodes, heads = [], []
    for b in range(branches):
        prev = "base"
        for k in range(length):
            out = f"b{b}_{k}"
            nodes.append(helper.make_node(unary[(b + k) % len(unary)], [prev], [out], name=f"branch{b}/op{k}"))
            prev = out
        heads.append(prev)
    nodes.append(helper.make_node("Sum", heads, ["grid"], name="grid_sum"))
    nodes.append(helper.make_node("GridSample", ["x", "grid"], ["y"], name="warp", align_corners=0))
    g = helper.make_graph(
        nodes,
        "branches",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1024, 1024]),
            helper.make_tensor_value_info("base", TensorProto.FLOAT, [1, 256, 256, 2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 256, 256])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 16)])
    m.ir_version = 8
    return m


def test_a_200_operator_neighbourhood_collapses_chains_and_parallel_branches(tmp_path):
    import onnx

    from precision_lint.api import Linter, Options

    path = tmp_path / "branches.onnx"
    onnx.save(_branches_model(), str(path))
    result = Linter(Options(neighbourhoods=True)).lint_file(str(path))
    (f,) = [f for f in result.reported if f.node == "warp"]
    hood = result.extras["neighbourhoods"][f.fingerprint]
    assert hood["operators"] == 30 * 7 + 2
    # each branch of 7 ops is one chain, and the 30 chains side by side are one box; Sum and GridSample stay
    assert sorted(n["kind"] for n in hood["nodes"]) == ["chain", "input", "input", "op", "op", "output"]
    bundle = next(n for n in hood["nodes"] if n["kind"] == "chain")
    assert bundle["label"].startswith("30 parallel, 210 ops: ")
    assert "branch0/op0" in bundle["name"] and "branch29/op6" in bundle["name"]
    ids = {n["id"] for n in hood["nodes"]}
    assert all(e["from"] in ids and e["to"] in ids for e in hood["edges"])


def test_a_single_chain_becomes_one_box(tmp_path):
    import onnx

    from precision_lint.api import Linter, Options

    path = tmp_path / "chain.onnx"
    onnx.save(_branches_model(branches=1, length=7), str(path))
    result = Linter(Options(neighbourhoods=True)).lint_file(str(path))
    hood = next(iter(result.extras["neighbourhoods"].values()))
    chain = next(n for n in hood["nodes"] if n["kind"] == "chain")
    assert chain["label"] == "8 ops: Relu → Neg → … → Sum"  # a Sum of one input is a link of the chain
    assert [n["label"] for n in hood["nodes"] if n["kind"] == "op"] == ["GridSample"]


def test_without_collapsing_the_neighbourhood_would_be_200_boxes(tmp_path, monkeypatch):
    import onnx

    from precision_lint.model import neighbourhood
    from precision_lint.api import Linter, Options

    path = tmp_path / "branches.onnx"
    onnx.save(_branches_model(), str(path))
    monkeypatch.setattr(neighbourhood, "CHAIN_MIN", 10**6)
    result = Linter(Options(neighbourhoods=True)).lint_file(str(path))
    hood = next(iter(result.extras["neighbourhoods"].values()))
    assert sum(n["kind"] == "op" for n in hood["nodes"]) == 212


def test_constants_show_their_values_and_the_culprit_is_marked(tmp_path):
    from precision_lint.api import Linter, Options

    result = Linter(Options(neighbourhoods=True)).lint_file(str(hostile_model(tmp_path)))
    hood = next(iter(result.extras["neighbourhoods"].values()))
    const = next(n for n in hood["nodes"] if n["kind"] == "const")
    assert const["detail"].startswith("2 f32[1]")
    assert [n["name"] for n in hood["nodes"] if n["culprit"]] == [HOSTILE]


# --------------------------------------------------------------------------------------------------- layout
def _check_layered(lay, sizes, edges):
    for a, b in edges:  # every edge runs downwards
        assert lay.centres[a][1] < lay.centres[b][1]
    by_row = {}
    for n, (x, y) in lay.centres.items():
        by_row.setdefault(round(y, 3), []).append((x - sizes[n][0] / 2, x + sizes[n][0] / 2))
    for boxes in by_row.values():  # no two boxes of one rank overlap
        boxes.sort()
        assert all(r1 <= l2 for (_, r1), (l2, _) in zip(boxes, boxes[1:]))
    assert all(x - sizes[n][0] / 2 >= 0 and x + sizes[n][0] / 2 <= lay.width for n, (x, _) in lay.centres.items())


def test_layered_layout_in_python():
    from precision_lint.reporters.graph_layout import layout

    sizes = {n: (40.0 + 10 * (i % 3), 30.0) for i, n in enumerate("abcdefgh")}
    edges = [
        ("a", "b"),
        ("a", "c"),
        ("b", "d"),
        ("c", "d"),
        ("a", "d"),
        ("d", "e"),
        ("f", "e"),
        ("e", "g"),
        ("e", "h"),
        ("c", "h"),
    ]
    lay = layout(sizes, edges, use_dot=False)
    assert lay.engine == "python"
    _check_layered(lay, sizes, edges)
    assert len(lay.routes[("a", "d")]) == 3  # the long edge bends through a point on the rank it skips


def test_layered_layout_survives_a_cycle():
    from precision_lint.reporters.graph_layout import layout

    sizes = {n: (40.0, 20.0) for n in "abc"}
    lay = layout(sizes, [("a", "b"), ("b", "c"), ("c", "a")], use_dot=False)
    assert set(lay.centres) == set("abc")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_graphviz_dot_lays_out_when_installed():
    from precision_lint.reporters.graph_layout import layout

    sizes = {n: (60.0, 30.0) for n in "abcd"}
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]
    lay = layout(sizes, edges)
    assert lay.engine == "dot" and lay.curved
    _check_layered(lay, sizes, edges)


# ---------------------------------------------------------------------------------------------- error chart
def test_error_chart_marks_the_first_node_over_tolerance():
    from precision_lint.reporters.error_chart import error_chart, first_over

    points = [{"node": f"n{d}", "depth": d, "rel_error": 1e-6 * 4**d, "tolerance": 1e-2} for d in range(10)]
    points.append({"node": HOSTILE, "depth": 12, "rel_error": float("inf"), "tolerance": 1e-2})
    points.append({"node": "exact", "depth": 0, "rel_error": 0.0, "tolerance": 1e-2})
    assert first_over(points)["node"] == "n7"  # 1e-6 * 4**7 = 0.016 > 0.01; n6 = 0.004 is not
    svg = ET.fromstring(error_chart(points))
    ns = "{http://www.w3.org/2000/svg}"
    dots = svg.findall(f"{ns}circle")
    over = [c for c in dots if c.get("class") == "over"]
    assert len(over) == 4  # n7, n8, n9 and the infinite one
    first = next(c for c in dots if c.get("class") == "first")
    n7 = next(c for c in dots if c.find(f"{ns}title") is not None and c.find(f"{ns}title").text.startswith("n7:"))
    assert (first.get("cx"), first.get("cy")) == (n7.get("cx"), n7.get("cy"))
    label = next(t for t in svg.findall(f"{ns}text") if t.get("class") == "first")
    assert label.text == "first over tolerance: n7"
    # log scale: ten times the error is a fixed step up; larger error is higher on the page (smaller y)
    ys = {c.find(f"{ns}title").text.split(":")[0]: float(c.get("cy")) for c in dots if c.get("class") != "first"}
    assert ys["n0"] > ys["n5"] > ys["n9"] >= ys[HOSTILE]
    assert any(t.text == HOSTILE + ": inf (tolerance 0.01)" for t in svg.iter(f"{ns}title"))


def test_measured_errors_appear_in_the_report_when_present():
    from precision_lint.api import Linter, Options
    from precision_lint.reporters import get_reporter
    from precision_lint.reporters.base import RunSummary

    linter = Linter(Options(identity=True, neighbourhoods=True))
    result = linter.lint_file(str(GRIDSAMPLE))
    result.extras["verify"] = {
        "nodes": [{"node": "warp_sample", "depth": 1, "rel_error": 0.03, "tolerance": 0.01}],
        "outputs": [{"name": "warped", "rel_error": 0.03, "tolerance": 0.01}],
    }
    stream = io.StringIO()
    reporter = get_reporter("html")(stream, {"rules": linter.rules, "root": str(ROOT), "use_dot": False})
    reporter.file(result)
    summary = RunSummary()
    summary.add(result)
    reporter.stop(summary)
    doc = parse(stream.getvalue())
    charts = [s for s in doc.iter("svg") if "chart" in s.classes()]
    assert len(charts) == 1 and "first over tolerance: warp_sample" in charts[0].all_text()
    cells = [td for td in doc.iter("td") if "error" in td.classes() and td.all_text() == "0.03"]
    assert cells


# -------------------------------------------------------------------------------------------- node identity
def test_every_format_says_where_the_node_is(tmp_path):
    code, out, _ = run("--isolated", "--format", "json", BERT)
    mask = next(f for f in json.loads(out)["files"][0]["findings"] if f["rule"] == "R001")
    assert mask["node_path"] == "input attention_mask -> Unsqueeze -> Unsqueeze -> Cast -> Sub -> Mul"
    assert mask["output"] == "/Mul_output_0"
    _, out, _ = run("--isolated", "--format", "sarif", BERT)
    props = [r["properties"] for r in json.loads(out)["runs"][0]["results"] if r["ruleId"] == "R001"][0]
    assert props["nodePath"] == mask["node_path"] and props["outputTensor"] == "/Mul_output_0"
    _, out, _ = run("--isolated", "-v", BERT)
    assert f"    at: {mask['node_path']} · writes tensor '/Mul_output_0'" in out
    _, out, _ = run("--isolated", "--format", "markdown", BERT)
    assert (
        "  - Where: path `input attention_mask -> Unsqueeze -> Unsqueeze -> Cast -> Sub -> Mul` · writes "
        "tensor `/Mul_output_0`" in out
    )
    text = html_report([BERT], tmp_path)
    assert (
        "Path: <code>input attention_mask -&gt; Unsqueeze -&gt; Unsqueeze -&gt; Cast -&gt; Sub -&gt; Mul</code>" in text
    )


def test_a_node_named_by_a_number_is_found_from_a_named_ancestor(tmp_path):
    """MNN names many ops by number: the path starts at the nearest ancestor with a name a person can search."""
    import onnx
    from onnx import helper, TensorProto

    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="encoder.layer.0/attention/proj"),
        helper.make_node("Add", ["a", "m"], ["b"], name="6"),
        helper.make_node("Softmax", ["b"], ["y"], name="LayerNorm44", axis=-1),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8]),
            helper.make_tensor_value_info("m", TensorProto.FLOAT, [1, 8]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    path = tmp_path / "named.onnx"
    onnx.save(m, str(path))
    from precision_lint.model.graph import Operator
    from precision_lint.model.loaders import load_model
    from precision_lint.model.neighbourhood import find_operator, is_generated, node_path

    graph = load_model(str(path))
    softmax = find_operator(graph, "LayerNorm44", "")
    assert node_path(graph, softmax) == "encoder.layer.0/attention/proj -> Add -> Softmax"
    assert is_generated(find_operator(graph, "6", ""))
    assert not is_generated(find_operator(graph, "encoder.layer.0/attention/proj", ""))
    assert is_generated(Operator("i", "LayerNormalization", "LayerNorm44", "LayerNorm", [], []))
    assert not is_generated(Operator("i", "GridSample", "warp_sample", "GridSample", [], []))


# ------------------------------------------------------------------------------------------ review checklist
def test_markdown_checklist_survives_an_infinite_estimate_and_names_the_file():
    """bert_tiny's mask constant overflows to -inf: the recommendation carries "inf" (it crashed with
    'Unknown format code g for object of type str')."""
    code, out, err = run("--isolated", "--format", "markdown", "--target", "android-opencl:low", BERT)
    assert code == 1 and "internal error" not in err, err
    assert "→ error, inf relative" in out
    assert f"| sha256 | `{hashlib.sha256(BERT.read_bytes()).hexdigest()}` |" in out
    assert f"| Size | {BERT.stat().st_size:,} bytes |" in out
    assert "| Inputs | `input_ids` int64\\[1, 128\\], `attention_mask` int64\\[1, 128\\] |" in out
    assert "| Outputs | `last_hidden_state` float32\\[1, 128, 64\\]" in out
    assert "| MNN version | platform facts for MNN " in out
    assert "- Evidence: " in out
    sign_off = out.split("## Sign-off")[1]
    assert "- [ ] Every item above is ticked" in sign_off and "`android-opencl:low`" in sign_off
    assert "- Reviewer: " in sign_off and "- Date: " in sign_off


def test_markdown_links_the_html_report(tmp_path):
    review = tmp_path / "review.md"
    run("--isolated", "--format", "markdown", "-o", review, GRIDSAMPLE)
    assert "| HTML report | [review.html](<review.html>) |" in review.read_text()
    run("--isolated", "--format", "markdown", "-o", review, "--html-link", "https://ci.example/r 1.html", GRIDSAMPLE)
    assert "[r 1.html](<https://ci.example/r%201.html>)" in review.read_text()
    _, out, _ = run("--isolated", "--format", "markdown", GRIDSAMPLE)
    assert "HTML report" not in out  # nothing to link to


# ------------------------------------------------------------------------------------------- headless browser
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI=true but Chromium is not installed (.ci/run installs the Debian package `chromium`)")
    pytest.skip("headless Chromium is not installed (apt-get install chromium)")


def _browser(chromium, *args):
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def _png_is_not_blank(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    pos, idat = 8, b""
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, len(set(pixels[:: max(1, len(pixels) // 200000)]))


def test_chromium_renders_every_model_and_finding(tmp_path):
    chromium = _chromium()
    text = html_report([GRIDSAMPLE, FLOW_WARP, hostile_model(tmp_path)], tmp_path, "--target", "ios-cpu:low")
    report = tmp_path / "report.html"
    # A copy with a probe script (the report itself runs none): the browser's own layout says what is visible.
    probe = tmp_path / "probe.html"
    probe.write_text(
        text.replace(
            "</body>",
            """<script>
for (const el of document.querySelectorAll('section.model, article.finding, article.finding svg, .culprit rect')) {
  const r = el.getBoundingClientRect();
  el.setAttribute('data-box', Math.round(r.width) + 'x' + Math.round(r.height));
}
document.body.setAttribute('data-probed', 'yes');
</script></body>""",
        ),
        encoding="utf-8",
    )
    proc = _browser(chromium, "--dump-dom", probe.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = parse(proc.stdout)
    body = next(dom.iter("body"))
    assert body.attrs.get("data-probed") == "yes"
    sections = [s for s in dom.iter("section") if "model" in s.classes()]
    assert [s.attrs["id"] for s in sections] == ["model-0", "model-1", "model-2"]
    headings = [next(s.iter("h2")).all_text() for s in sections]
    assert [os.path.basename(h) for h in headings] == ["gridsample_large.onnx", "flow_warp.onnx", "hostile.onnx"]
    articles = [a for a in dom.iter("article") if "finding" in a.classes()]
    assert len(articles) == 4 and articles[-1].attrs["data-node"] == HOSTILE
    for el in sections + articles:
        w, h = map(int, el.attrs["data-box"].split("x"))
        assert w > 300 and h > 50, (el.tag, el.attrs.get("data-node"), el.attrs["data-box"])
    for a in articles:
        svg = next(a.iter("svg"))
        w, h = map(int, svg.attrs["data-box"].split("x"))
        assert w > 100 and h > 60
        rect = next(g for g in a.iter("g") if "culprit" in g.classes())
        assert next(rect.iter("rect")).attrs["data-box"] != "0x0"
    assert not [s for s in dom.iter("script") if "alert" in s.all_text()]  # hostile names stayed text
    # screenshots a reviewer can look at: the top of the page and the whole of it
    for name, size in (("top.png", "1280,1600"), ("full.png", "1280,9000")):
        shot = tmp_path / name
        proc = _browser(chromium, f"--screenshot={shot}", f"--window-size={size}", report.as_uri())
        assert shot.exists(), proc.stderr[-2000:]
        width, height, colours = _png_is_not_blank(shot)
        assert (width, height) == tuple(map(int, size.split(","))) and colours > 20


def test_an_mnn_finding_names_the_onnx_node_it_was_converted_from(tmp_path):
    """The .mnn sample is MNN's own conversion of the .onnx one: its op is named after the output tensor."""
    mnn = SAMPLES / "gridsample_large.mnn"
    _, out, _ = run("--isolated", "--format", "json", mnn)
    (f,) = json.loads(out)["files"][0]["findings"]
    assert (f["node"], f["output"], f["node_path"]) == ("warped", "warped", "input image -> GridSample")
    _, out, _ = run("--isolated", "--format", "markdown", GRIDSAMPLE, mnn)
    mnn_part = out.split("## Precision review: `gridsample_large.mnn`")[1]
    assert "converted from ONNX node `warp_sample` in `sample_models/gridsample_large.onnx`" in mnn_part
    onnx_part = out.split("## Precision review: `gridsample_large.mnn`")[0]
    assert "converted from" not in onnx_part
    _, out, _ = run("--isolated", "--format", "markdown", mnn)  # alone: nothing to match
    assert "converted from ONNX node" not in out
    doc = parse(html_report([GRIDSAMPLE, mnn], tmp_path))
    mnn_article = [a for a in doc.iter("article") if "finding" in a.classes()][1]
    where = next(p for p in mnn_article.iter("p") if "where" in p.classes()).all_text()
    assert "converted from ONNX node warp_sample in sample_models/gridsample_large.onnx" in where
