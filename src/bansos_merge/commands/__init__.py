"""The CLI's commands that run a merge or a Prefect server (`cli.py` holds the parser).

They import pipelines/ (Prefect) inside their handlers, never at import: the library's
packages never import it at all.
"""
