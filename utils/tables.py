"""The one plain-text table formatter of the CLI (`slimnets list`, `slimnets describe`)."""

from typing import List, Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int = 1) -> List[str]:
  """Lines of a table: the first `text_columns` columns left-aligned, the others (numbers) right-aligned."""
  widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
  return ['  '.join(cell.ljust(width) if i < text_columns else cell.rjust(width)
                    for i, (cell, width) in enumerate(zip(row, widths))).rstrip() for row in [header, *rows]]
