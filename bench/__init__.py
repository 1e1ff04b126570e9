"""The performance bench of AIops: `python -m bench.run` (see bench/README.md)."""
