"""The timing every benchmark shares: the median of a function's wall time after warm-up calls."""

import statistics
import time


def median_seconds(function, runs: int, warmup: int = 2) -> float:
  """Median seconds of `function()` over `runs` calls after `warmup` (the function must block until done)."""
  for _ in range(warmup):
    function()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return statistics.median(times)
