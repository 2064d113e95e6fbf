"""The calibration corpus: models with measured fp16/bf16 ground truth, and the scores of the rules against it."""
