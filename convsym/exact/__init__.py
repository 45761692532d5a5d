"""Exact polynomial tensors and the ops on them: every weight, bias and input entry a distinct
variable, so an identity is decided by comparing coefficients.

``tensor`` (the interface the backends share), ``keys`` (canonical term order), ``poly`` (the
fast backend), ``oracle`` (a readable dict backend the tests compare against), ``modp`` (the
Schwartz-Zippel twin and ``exact_check``), ``pool`` (variables), ``ops``/``rewrites``/``transposed``
(the layers as exact ops), ``trace``/``engine``/``blockwise`` (comparison one block at a time).
Nothing here imports the NumPy transforms or the renderers.
"""
