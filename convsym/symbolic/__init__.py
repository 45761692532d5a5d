"""Index sums for the general (all sizes) derivations: ``sums`` (the data), ``printing`` (their
LaTeX and plain text), ``opdefs`` (every operation as a definition), ``rules`` (rewrites that
decide their own side conditions), ``decide`` (z3) and ``symbols`` (sizes and scalars).
"""
