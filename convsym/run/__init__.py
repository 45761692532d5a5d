"""Running the proof scripts: ``registry`` (finding and loading scripts, families, the cached
listing) and ``build`` (proving, writing and checking ``generated/``, the PDF).
"""
