"""The performance bench of AIops (issue 7): `python -m bench.run` (see bench/README.md)."""
