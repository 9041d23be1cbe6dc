"""Request and response bodies of the REST API (they make the OpenAPI document and its examples)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    field_validator,
    model_validator,
)

INT64 = (-(2**63), 2**63 - 1)


def _not_a_boolean(value: Any) -> Any:
    """A JSON ``true`` is not an id (pydantic would read it as the integer 1, which the schema does not allow)."""
    if isinstance(value, bool):
        raise ValueError("an id is a string or an integer, not true or false")
    return value


# an id that is a number fits a 64-bit integer: the schema states it, the validator below says so in a sentence
Int64 = Annotated[
    int, BeforeValidator(_not_a_boolean), WithJsonSchema({"type": "integer", "minimum": INT64[0], "maximum": INT64[1]})
]


def _lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone UTF-16 surrogate (JSON can escape one; UTF-8, and so no reply, can carry it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class PredictRequest(BaseModel):
    """Molecules to score. ``ids`` (optional, one per SMILES) are echoed back to match results to your records."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"smiles": ["CCO", "c1ccccc1O", "not a smiles"], "ids": ["a", "b", "c"]}]},
    )

    smiles: list[str] = Field(description="SMILES strings; an invalid one gets an error, the others are scored.")
    ids: list[str | Int64] | None = Field(
        default=None, description="Your identifiers, exactly one per SMILES (a list as long as smiles; 422 otherwise)."
    )
    explain: StrictBool = Field(default=False, description="Add atom attributions drawn as SVG (gradient x input).")
    explain_task: str | None = Field(default=None, description="Task the attributions explain (default: the first).")
    depict: StrictBool = Field(default=False, description="Add a 2D depiction (SVG) of each valid molecule.")

    @field_validator("smiles")
    @classmethod
    def _printable_smiles(cls, smiles: list[str]) -> list[str]:
        """A SMILES with a lone surrogate is that molecule's error, not the request's: keep it as escaped text."""
        return [s.encode("utf-8", "backslashreplace").decode("utf-8") if _lone_surrogate(s) else s for s in smiles]

    @field_validator("ids")
    @classmethod
    def _storable_ids(cls, ids: list[str | int] | None) -> list[str | int] | None:
        for i, value in enumerate(ids or ()):
            if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
                raise ValueError(f"ids[{i}] = {value} does not fit a 64-bit integer; send it as a string")
            if isinstance(value, str) and _lone_surrogate(value):
                raise ValueError(f"ids[{i}] holds a lone surrogate, which is not text; send valid Unicode")
        return ids

    @model_validator(mode="after")
    def _ids_match(self) -> PredictRequest:
        if self.ids is not None and len(self.ids) != len(self.smiles):
            raise ValueError(f"ids has {len(self.ids)} items for {len(self.smiles)} SMILES; give one id per SMILES")
        return self


class MoleculeResult(BaseModel):
    """One input molecule's result, in input order. ``error`` is null when it was scored."""

    index: int = Field(description="Position in the request.")
    id: str | int | None = None
    smiles: str = Field(description="As submitted.")
    canonical_smiles: str | None = Field(description="RDKit canonical SMILES; null when invalid.")
    scores: dict[str, float | None] = Field(description="Per task: probability (classification) or value.")
    std: dict[str, float | None] | None = Field(default=None, description="Spread over ensemble members.")
    conformal: dict[str, str | float | None] | None = Field(
        default=None,
        description="For a conformally calibrated model: per task `<task>_set` (active, inactive, both or none at "
        "the model's confidence, 0.9 by default) or `<task>_lo` / `<task>_hi` (regression interval).",
    )
    max_similarity: float | None = Field(description="Max Morgan-2 Tanimoto similarity to the training molecules.")
    in_domain: bool | None = Field(description="max_similarity at or above the model's threshold.")
    error: str | None = Field(description="'reason: message' when the molecule was not scored.")
    depiction_svg: str | None = None
    attribution_svg: str | None = None


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [{
                "model": "tox21", "tasks": ["NR-AR", "SR-MMP"], "domain_threshold": 0.35,
                "results": [
                    {"index": 0, "id": "a", "smiles": "CCO", "canonical_smiles": "CCO",
                     "scores": {"NR-AR": 0.03, "SR-MMP": 0.05}, "std": None, "max_similarity": 0.6,
                     "in_domain": True, "error": None},
                    {"index": 1, "id": "c", "smiles": "not a smiles", "canonical_smiles": None,
                     "scores": {"NR-AR": None, "SR-MMP": None}, "std": None, "max_similarity": None,
                     "in_domain": None, "error": "unparsable: RDKit could not parse the SMILES"},
                ],
            }]
        },
    )  # fmt: skip

    model: str
    tasks: list[str]
    domain_threshold: float
    results: list[MoleculeResult]


class EndpointInfo(BaseModel):
    """What one task's score means."""

    task: str
    meaning: str
    units: str
    direction: str = Field(description="Which way is which, e.g. 'higher: more likely active (a toxicity alert)'.")
    assay: str = Field(description="The assay or source of the training labels.")


class ModelSummary(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    name: str
    version: str | None
    kind: str
    tasks: list[str]
    shipped: bool
    default: bool
    test_metric: dict[str, Any] | None = Field(default=None, description="Primary test metric on the card.")
    endpoints: list[EndpointInfo] = Field(
        default_factory=list, description="What each task's score means (empty when the training data is not a "
        "named dataset)."
    )  # fmt: skip


class ErrorBody(BaseModel):
    """An error answer: what went wrong and what to do about it."""

    detail: str


class ValidationIssue(BaseModel):
    """One field that failed validation (FastAPI's form; ``input`` and ``ctx`` may come with it)."""

    loc: list[str | int] = Field(description="Where: 'body', then the field's path.")
    msg: str
    type: str


class UnprocessableBody(BaseModel):
    """A 422: the fields that failed validation (a list), or a sentence saying why a well-formed request cannot be
    served as sent (a table without a SMILES column, attributions for too many molecules, an unusable upload)."""

    detail: str | list[ValidationIssue]
