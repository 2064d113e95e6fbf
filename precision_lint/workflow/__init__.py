"""How a run is organised around the engine: configuration (`config`), which models (`files`, `globs`,
`arguments`), rule selection (`selectors`), suppressions and baselines (`suppress`, `baseline`), and parallel
runs (`batch`)."""
