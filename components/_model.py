"""Base for every args model: unknown keys rejected, instances immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=False)
