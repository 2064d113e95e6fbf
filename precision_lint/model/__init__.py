"""The model as the rules see it: the graph (`graph`), the ONNX and MNN readers (`loaders`), the MNN converter
wrapper (`converter`), a model's identity and the subgraph around a node (`identity`, `neighbourhood`)."""
