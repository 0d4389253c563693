"""Dataset specs: the declarative interface through which teams add their tables."""

from mlops_assets.specs.loader import SpecError, find_spec, load_spec_file, load_specs
from mlops_assets.specs.model import DatasetSpec

__all__ = ["DatasetSpec", "SpecError", "find_spec", "load_spec_file", "load_specs"]
