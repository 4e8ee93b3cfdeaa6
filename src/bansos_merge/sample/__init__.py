"""Synthetic agency extracts with ground truth, for tests, demos and evaluation.

    from bansos_merge.sample import generate_sample, CorruptionRates
    summary = generate_sample(people=10_000, seed=1, out_dir=Path("sample"))

Modules: `rates` (the rates model), `names` (naming traditions), `places` (regencies and
villages), `population` (the true people), `corrupt` (field corruptions and the NIK check),
`extracts` (who is listed, rows in file order) with `garbage` (the rows a reader rejects),
`writers` (file formats), `truth` (rows, conditions, people), `generate`; `draw`: shared
random draws and helpers.
"""

from .generate import generate_sample
from .rates import CorruptionRates

__all__ = ["CorruptionRates", "generate_sample"]
