"""Deployment: the folded inference path (`serving`), `Predictor` and benchmarks (`inference`), exports
(`export`), other runtimes (`backends`), feature extraction over image folders (`extract`), precisions
(`precision`, which imports no TensorFlow: the command line reads its choices before TensorFlow loads)."""
