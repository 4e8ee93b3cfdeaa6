"""A merge run: one driver over the library's steps, run by an executor (threads here, or
Prefect's tasks and Dask through `pipelines/`)."""
