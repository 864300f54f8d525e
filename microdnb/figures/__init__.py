"""Everything the reader sees drawn: source display, tables, kernel-free widgets, the explorer and each part's figures."""
