"""Read load-run results directories, summarize, compare, gate and report."""
