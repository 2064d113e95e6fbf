"""From findings to a deployment: the platform table (`platforms`), declared targets and per-target judgement
(`targets`, `stage`), MNN kernel bugs and converter behaviour (`known_issues`, `mnn_conversion`, `mnn_notes`), the
recommended BackendConfig per platform (`recommend`) and the code that applies it (`snippets`)."""
