"""ModelGraph.to_networkx(): the graph users and graph algorithms get, the same from .onnx and its .mnn."""

import os

import networkx as nx

from precision_lint.model.loaders import load_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = os.path.join(ROOT, "sample_models", "gridsample_large.onnx")
BERT = os.path.join(ROOT, "sample_models", "architectures", "bert_tiny.onnx")


def test_networkx_graph_has_operators_tensors_and_order():
    graph = load_model(SEED)
    g = graph.to_networkx()
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == len(graph)
    gs = [n for n, d in g.nodes(data=True) if d["op"] == "GridSample"]
    assert len(gs) == 1 and g.nodes[gs[0]]["name"] == "warp_sample"
    assert g.nodes[gs[0]]["inputs"] == ("image", "grid")


def test_networkx_edges_carry_tensors_and_algorithms_work():
    graph = load_model(BERT)
    g = graph.to_networkx()
    assert nx.is_directed_acyclic_graph(g) and g.number_of_edges() > 0
    for p, c, d in g.edges(data=True):
        assert d["tensors"] and set(d["tensors"]) <= set(g.nodes[p]["outputs"]) & set(g.nodes[c]["inputs"])
    softmax = next(n for n, d in g.nodes(data=True) if d["op"] == "Softmax")
    upstream = {g.nodes[a]["op"] for a in nx.ancestors(g, softmax)}
    assert {"MatMul", "Add"} <= upstream  # attention scores and the mask feed the Softmax


def test_same_operator_graph_from_the_mnn_conversion(models):
    onnx_ops = sorted(d["op"] for _, d in load_model(SEED).to_networkx().nodes(data=True))
    mnn_ops = sorted(d["op"] for _, d in load_model(models["gridsample_large"][1]).to_networkx().nodes(data=True))
    assert "GridSample" in mnn_ops and len(mnn_ops) <= len(onnx_ops)
