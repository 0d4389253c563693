"""Dataset specs: the declarative interface through which teams add their tables."""

from mlops_assets.specs.loader import (
    BrokenSpec,
    SpecCatalog,
    SpecError,
    find_spec,
    load_spec_catalog,
    load_spec_file,
    load_specs,
)
from mlops_assets.specs.model import DatasetSpec

__all__ = [
    "BrokenSpec",
    "DatasetSpec",
    "SpecCatalog",
    "SpecError",
    "find_spec",
    "load_spec_catalog",
    "load_spec_file",
    "load_specs",
]
