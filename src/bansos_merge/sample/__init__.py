"""Synthetic agency extracts with ground truth, for tests, demos and evaluation.

    from bansos_merge.sample import generate_sample, CorruptionRates
    summary = generate_sample(people=10_000, seed=1, out_dir=Path("sample"))

Modules: `rates` (the rates model), `names` (naming traditions), `population` (the true
people), `corrupt` (field corruptions and the NIK check), `extracts` (who is listed, rows in
file order), `writers` (file formats), `truth` (rows, conditions, people), `generate`.
"""

from .generate import generate_sample
from .rates import CorruptionRates

__all__ = ["CorruptionRates", "generate_sample"]
