"""wisparse-gguf: weight-aware activation sparsity (WiSparse) for GGUF models."""

__version__ = "0.1.0"
