"""The benchmark of issue 6: the service side by side with a bare baseline (never run in CI)."""
