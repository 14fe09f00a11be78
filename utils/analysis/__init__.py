"""Analysis of networks without running them: geometry (sizes, strides, receptive fields), feature levels,
descriptions, parameter counts, and the dry builds they read."""
