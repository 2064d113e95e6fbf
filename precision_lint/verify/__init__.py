"""`precision-lint verify`: run the model on MNN's real kernels (the ARMv8.2 fp16 ones under QEMU: `arm_setup`,
`arm_runner`, `mnn_worker`) or emulate the platform table (`emulated`), with generated or given inputs (`inputs`),
measure the error per tensor (`metrics`), attribute it to nodes and review the static findings (`run`, `review`);
ONNX Runtime runs (`ort_run`) serve the cross-runtime check and `--calibration-data` (`calibration_data`)."""
