"""The case-timeline format, checked by marshmallow schemas, with errors that say where and what.

A timeline (YAML) is what a researcher writes to add a published case; `build.py` turns it into a Bundle.
Every problem is reported as `file:line: path.in.timeline: message`, all of them at once, so that a
timeline can be fixed in one pass. See bundles/README.md for the format with examples.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from fhir_service.cases import terminology

GRADING_SYSTEMS = ("astct-2019", "astct-2023-iec-hs", "ctcae-v5", "lee-2014", "not-stated")
TOXICITIES = ("crs", "icans", "iec-hs")
# other-toxicity: a CAR-T toxicity the report does not call or grade as CRS/ICANS/IEC-HS (e.g. "febrile
# hypotension" treated with tocilizumab); other: any other condition (coagulopathy, bacteremia, ...).
CONDITION_KINDS = ("crs", "icans", "iec-hs", "malignancy", "other-toxicity", "other")
#: Conditions a toxicity-directed drug may be given for (cart-toxicity-treatment, cart-3).
TREATABLE_KINDS = ("crs", "icans", "iec-hs", "other-toxicity")
DRUG_ROLES = ("toxicity", "lymphodepletion", "cart-activation", "supportive", "other")
OXYGEN = ("none", "low_flow", "high_flow", "positive_pressure", "not_stated")  # not_stated: hypoxia, support not given
CONSCIOUSNESS = ("normal", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile", "unarousable")
SEIZURE = ("none", "rapidly_resolving", "prolonged_or_repetitive")
MOTOR = ("none", "deep_focal_weakness")
EDEMA = ("none", "focal", "diffuse")
COMPARATORS = ("<", "<=", ">=", ">")
CASE_ID = r"^[a-z0-9][a-z0-9-]{1,62}$"


@dataclass(frozen=True, slots=True)
class TimelineProblem:
    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '(top)'}: {self.message}"


class TimelineError(Exception):
    """All the problems of one timeline file."""

    def __init__(self, problems: list[TimelineProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# -- fields -------------------------------------------------------------------------------------------------
class Key(fields.String):
    """A concept key (`lab.ferritin`, `condition.lbcl@C83.38`, `cart-tox:ice-score`) that must resolve."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            terminology.resolve(text)
        except terminology.UnknownKey as exc:
            raise ValidationError(str(exc)) from exc
        return text


class Keys(fields.Field):
    """One key or a list of keys (their codings go into one CodeableConcept)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        key = Key()
        return [key.deserialize(item) for item in items]


class Refs(fields.Field):
    """One condition id or a list of them."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) and item for item in items):
            raise ValidationError("a condition id, or a list of condition ids")
        return items


class Decimal(fields.Number):
    """A number as written (int stays int, 6.0 stays 6.0); booleans are refused."""

    num_type = float

    def _format_num(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.make_error("invalid")
        return value


class Strict(Schema):
    class Meta:
        unknown = RAISE


def _exactly_one(data: dict[str, Any], names: Iterable[str], what: str) -> None:
    present = [n for n in names if data.get(n) is not None]
    if len(present) != 1:
        raise ValidationError(f"give exactly one {what} of: {', '.join(names)} (found {', '.join(present) or 'none'})")


# -- pieces -------------------------------------------------------------------------------------------------
class SourceSchema(Strict):
    doi = fields.String(required=True, validate=validate.Regexp(r"^10\.\d{4,9}/\S+$", error="not a DOI (10.xxxx/...)"))
    citation = fields.String(required=True)
    seeds = fields.List(fields.String(), load_default=list)
    label = fields.String()  # which patient of a series, e.g. "Case 2"


class AnchorSchema(Strict):
    infusion_date = fields.Date(required=True)
    synthetic = fields.Boolean(required=True)
    reason = fields.String()

    @validates_schema
    def _reason(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("synthetic") and not data.get("reason"):
            raise ValidationError("a synthetic infusion date needs a reason (what the report gives instead)", "reason")


class AgeSchema(Strict):
    value = Decimal(required=True, validate=validate.Range(min=0, max=120))
    unit = fields.String(required=True, validate=validate.OneOf(["a", "mo"]))
    # only for an age the report gives with a comparator ("over 60 years"); a word such as "adult" is not an age:
    # it goes into patient.age_text, never into a number
    comparator = fields.String(validate=validate.OneOf(COMPARATORS))


class PatientSchema(Strict):
    sex = fields.String(required=True, validate=validate.OneOf(["male", "female", "unknown"]))
    age = fields.Nested(AgeSchema)
    age_text = fields.String()  # what the report says when it gives no number ("adult")
    description = fields.String()


class CharacteristicSchema(Strict):
    code = Key(required=True)  # what is described: cart-tox:age-group, cart-tox:prior-therapy, ...
    value = Key()
    text = fields.String(required=True)


class CohortSchema(Strict):
    name = fields.String(required=True)
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    characteristics = fields.List(fields.Nested(CharacteristicSchema), required=True, validate=validate.Length(min=1))
    product = Key()
    intervention = Key()  # the treatment whose effect the publication reports (becomes a coded characteristic)
    intervention_text = fields.String()  # its name as reported, e.g. "emapalumab"
    findings = fields.List(fields.String(), load_default=list)  # stated results with no number (Group narrative)


class ConditionSchema(Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    kind = fields.String(required=True, validate=validate.OneOf(CONDITION_KINDS))
    key = Keys()
    text = fields.String(required=True)
    onset = fields.Integer()
    onset_text = fields.String()
    onset_year = fields.Integer(validate=validate.Range(min=1900, max=2100))
    abatement = fields.Integer()
    abatement_text = fields.String()
    verification = fields.String(load_default="confirmed", validate=validate.OneOf(["confirmed", "provisional"]))
    grading_system = fields.String(validate=validate.OneOf(GRADING_SYSTEMS))
    note = fields.String()

    @validates_schema
    def _days(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        onset, end = data.get("onset"), data.get("abatement")
        if onset is not None and end is not None and end < onset:
            errors["abatement"] = [f"abatement day {end} is before onset day {onset}"]
        if data.get("kind") in TOXICITIES and not data.get("grading_system"):
            errors["grading_system"] = ["a CRS/ICANS/IEC-HS condition names its grading system"]
        if errors:
            raise ValidationError(errors)


class InfusionSchema(Strict):
    product = Key(required=True)
    product_text = fields.String()
    construct = fields.String(required=True)
    target = Key(required=True)
    lymphodepletion_text = fields.String()
    note = fields.String()


class QuantitySchema(Strict):
    value = Decimal(required=True)
    unit = fields.String(required=True)
    comparator = fields.String(validate=validate.OneOf(COMPARATORS))


class RangeSchema(Strict):
    low = Decimal()
    high = Decimal()
    unit = fields.String(required=True)


class ComponentSchema(Strict):
    key = Key(required=True)
    value = Decimal(required=True)
    unit = fields.String(required=True)
    comparator = fields.String(validate=validate.OneOf(COMPARATORS))

    @validates_schema
    def _unit(self, data: dict[str, Any], **_: Any) -> None:
        _check_unit(data)


def _check_unit(data: dict[str, Any]) -> None:
    if "key" not in data or data.get("unit") is None:
        return
    problem = terminology.unit_problem(data["unit"], terminology.concept_unit(data["key"]))
    if problem:
        raise ValidationError(problem, "unit")


class ObservationSchema(Strict):
    """One measured or observed value. Exactly one of value / range / text / boolean / code / components."""

    id = fields.String()
    key = Key(required=True)
    value = Decimal()
    unit = fields.String()
    comparator = fields.String(validate=validate.OneOf(COMPARATORS))
    approx = fields.Boolean()  # the report gives the value as approximate ("~0.05%"): kept as text, not rounded
    range = fields.Nested(RangeSchema)
    text = fields.String()
    boolean = fields.Boolean()
    code = Key()
    code_text = fields.String()  # the report's words for a coded value ("~0.05% PB MRD signal")
    components = fields.List(fields.Nested(ComponentSchema))
    method = fields.String()
    specimen = fields.String()
    note = fields.String()

    @validates_schema
    def _shape(self, data: dict[str, Any], **_: Any) -> None:
        _exactly_one(data, ("value", "range", "text", "boolean", "code", "components"), "value")
        if data.get("value") is not None and not data.get("unit") and terminology.concept_unit(data["key"]):
            raise ValidationError(f"a value needs its unit (this concept is reported in {terminology.concept_unit(data['key'])!r})", "unit")
        if data.get("range") is not None:
            _check_unit({"key": data["key"], "unit": data["range"]["unit"]})
        _check_unit(data)
        if data.get("approx") and data.get("value") is None:
            raise ValidationError("'approx' qualifies a 'value'", "approx")


class OxygenSchema(Strict):
    support = fields.String(required=True, validate=validate.OneOf(OXYGEN))
    device = fields.String()
    flow = Decimal()  # L/min


class VasopressorSchema(Strict):
    count = fields.Integer(required=True, validate=validate.Range(min=0))  # excluding vasopressin
    at_least = fields.Boolean(load_default=False)  # "multiple pressors": count 2, at_least true
    text = fields.String()


class GradingInputsSchema(Strict):
    """The ASTCT CRS / ICANS inputs that a report states for the day (omitted = not reported)."""

    fever = fields.Boolean()
    temperature = fields.Nested(QuantitySchema)
    hypotension = fields.Boolean()
    vasopressors = fields.Nested(VasopressorSchema)
    oxygen = fields.Nested(OxygenSchema)
    ice_score = fields.Integer(validate=validate.Range(min=0, max=10))
    consciousness = fields.String(validate=validate.OneOf(CONSCIOUSNESS))
    consciousness_text = fields.String()  # the report's words for the level ("non-responsiveness requiring intubation")
    seizure = fields.String(validate=validate.OneOf(SEIZURE))
    motor = fields.String(validate=validate.OneOf(MOTOR))
    edema = fields.String(validate=validate.OneOf(EDEMA))
    note = fields.String()


class GradeSchema(Strict):
    toxicity = fields.String(required=True, validate=validate.OneOf(TOXICITIES))
    grade = fields.Integer(required=True, validate=validate.Range(min=0, max=5))
    system = fields.String(required=True, validate=validate.OneOf(GRADING_SYSTEMS))
    condition = fields.String()  # id of the episode Condition this grade belongs to
    note = fields.String()


class DrugSchema(Strict):
    id = fields.String()
    agent = Key()
    agent_text = fields.String()
    role = fields.String(load_default="toxicity", validate=validate.OneOf(DRUG_ROLES))
    status = fields.String(load_default="completed", validate=validate.OneOf(["completed", "not-done", "in-progress"]))
    dose = Decimal()
    unit = fields.String()
    dose_text = fields.String()  # the dose as the report words it, when it adds to dose+unit
    route = fields.String(validate=validate.OneOf(["IV", "oral", "SC"]))
    frequency = fields.String()
    count = fields.Integer(validate=validate.Range(min=1))  # administrations on that day, when stated
    until = fields.Integer()  # last day of a course
    until_text = fields.String()
    reason = Refs()  # condition id(s)
    reason_text = fields.String()
    note = fields.String()

    @validates_schema
    def _shape(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("agent") and not data.get("agent_text"):
            raise ValidationError("name the agent by 'agent' (a key) or 'agent_text'", "agent")
        if (data.get("dose") is None) != (data.get("unit") is None):
            raise ValidationError("'dose' and 'unit' go together", "unit" if data.get("dose") is not None else "dose")
        if data.get("unit") is not None:
            problem = terminology.dose_unit_problem(data["unit"])
            if problem:
                raise ValidationError(problem, "unit")


class ProcedureSchema(Strict):
    id = fields.String()
    key = Key()
    text = fields.String(required=True)
    until = fields.Integer()
    until_text = fields.String()
    reason = Refs()
    note = fields.String()


class EncounterSchema(Strict):
    id = fields.String(required=True)
    text = fields.String(required=True)  # "hospital admission", "ICU stay"
    start = fields.Integer()
    start_text = fields.String()
    end = fields.Integer()
    end_text = fields.String()
    note = fields.String()


class DaySchema(Strict):
    """What happened on one day relative to infusion; or, with `when` instead of `day`, at a time the report
    does not pin to a day (kept as its words, never turned into a guessed day)."""

    day = fields.Integer()
    when = fields.String()
    labs = fields.List(fields.Nested(ObservationSchema), load_default=list)
    vitals = fields.List(fields.Nested(ObservationSchema), load_default=list)
    grading = fields.Nested(GradingInputsSchema)
    grades = fields.List(fields.Nested(GradeSchema), load_default=list)
    drugs = fields.List(fields.Nested(DrugSchema), load_default=list)
    procedures = fields.List(fields.Nested(ProcedureSchema), load_default=list)
    responses = fields.List(fields.Nested(ObservationSchema), load_default=list)
    comment = fields.String()  # for the curator (where in the report this comes from); not put in the Bundle

    @validates_schema(skip_on_field_errors=False)
    def _when(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("day") is None and not data.get("when"):
            raise ValidationError("missing 'day' (or 'when', the report's words, if it gives no day)", "day")
        if data.get("grades") and data.get("day") is None:
            raise ValidationError("grades need a 'day'", "grades")


class PValueSchema(Strict):
    value = Decimal(required=True, validate=validate.Range(min=0, max=1))
    comparator = fields.String(validate=validate.OneOf(COMPARATORS))


class TimePointSchema(Strict):
    value = Decimal(required=True)
    unit = fields.String(required=True, validate=validate.OneOf(["mo", "a", "wk", "d"]))


class AggregateSchema(Strict):
    """One aggregate result about the cohort (a mean before/after with its p-value, a rate, a median)."""

    id = fields.String(required=True)
    key = Key(required=True)
    statistic = fields.String(required=True, validate=validate.OneOf(["mean-before-after", "rate", "median"]))
    unit = fields.String()
    before = Decimal()
    after = Decimal()
    p = fields.Nested(PValueSchema)
    value = Decimal()
    text = fields.String()  # "not reached"
    ci95 = fields.List(Decimal(), validate=validate.Length(equal=2))
    time_point = fields.Nested(TimePointSchema)
    comparison = fields.String()
    note = fields.String()

    @validates_schema
    def _shape(self, data: dict[str, Any], **_: Any) -> None:
        stat = data.get("statistic")
        if stat == "mean-before-after":
            missing = [n for n in ("before", "after", "unit") if data.get(n) is None]
            if missing:
                raise ValidationError(f"a before/after mean needs {', '.join(missing)}", missing[0])
        elif stat == "rate" and (data.get("value") is None or data.get("unit") is None):
            raise ValidationError("a rate needs 'value' and 'unit'", "value")
        elif stat == "median" and data.get("value") is None and not data.get("text"):
            raise ValidationError("a median needs 'value' or 'text'", "value")
        if data.get("unit") and "key" in data:
            problem = terminology.unit_problem(data["unit"], terminology.concept_unit(data["key"]))
            if problem:
                raise ValidationError(problem, "unit")


class OutcomeSchema(Strict):
    status = fields.String(required=True, validate=validate.OneOf(["alive", "died", "not-stated"]))
    day = fields.Integer()
    text = fields.String(required=True)


class TimelineSchema(Strict):
    case = fields.String(required=True, validate=validate.Regexp(CASE_ID, error="case id: lower-case letters, digits, '-'"))
    title = fields.String(required=True)
    source = fields.Nested(SourceSchema, required=True)
    anchor = fields.Nested(AnchorSchema)
    patient = fields.Nested(PatientSchema)
    cohort = fields.Nested(CohortSchema)
    infusion = fields.Nested(InfusionSchema)
    malignancy = fields.List(fields.Nested(ConditionSchema), load_default=list)
    conditions = fields.List(fields.Nested(ConditionSchema), load_default=list)
    encounters = fields.List(fields.Nested(EncounterSchema), load_default=list)
    days = fields.List(fields.Nested(DaySchema), load_default=list)
    aggregates = fields.List(fields.Nested(AggregateSchema), load_default=list)
    outcome = fields.Nested(OutcomeSchema)

    @validates_schema(skip_on_field_errors=False)
    def _whole(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        if (data.get("patient") is None) == (data.get("cohort") is None):
            errors.setdefault("patient", []).append("a timeline describes either one 'patient' or one 'cohort'")
        if data.get("patient") is not None:
            for name in ("anchor", "infusion"):
                if data.get(name) is None:
                    errors.setdefault(name, []).append(f"a patient timeline needs '{name}'")
            if data.get("aggregates"):
                errors.setdefault("aggregates", []).append("aggregates belong to a cohort timeline")
        if data.get("cohort") is not None and data.get("days"):
            errors.setdefault("days", []).append("a cohort timeline holds aggregates, not individual days")
        ids = [c["id"] for c in data.get("malignancy", []) + data.get("conditions", [])]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            errors.setdefault("conditions", []).append(f"duplicate condition ids: {', '.join(dupes)}")
        known = set(ids)
        kinds = {c["id"]: c.get("kind") for c in data.get("malignancy", []) + data.get("conditions", [])}
        for d_index, day in enumerate(data.get("days", [])):
            for i, drug in enumerate(day.get("drugs", [])):
                wrong = [r for r in drug.get("reason") or [] if r in kinds and drug.get("role", "toxicity") == "toxicity"
                         and kinds[r] not in TREATABLE_KINDS]
                if wrong:
                    errors.setdefault(f"days[{d_index}].drugs[{i}].reason", []).append(
                        f"a toxicity-directed drug is given for a toxicity ({', '.join(TREATABLE_KINDS)}); "
                        f"{', '.join(repr(w) for w in wrong)} is of another kind (give the drug a 'role', or the "
                        "condition kind 'other-toxicity' if the report treats it as a CAR-T toxicity)")
            refs = [("grades", i, "condition", g.get("condition")) for i, g in enumerate(day.get("grades", []))]
            refs += [("drugs", i, "reason", r) for i, g in enumerate(day.get("drugs", [])) for r in g.get("reason") or []]
            refs += [("procedures", i, "reason", r) for i, g in enumerate(day.get("procedures", [])) for r in g.get("reason") or []]
            for section, index, name, ref in refs:
                if ref and ref not in known:
                    errors.setdefault(f"days[{d_index}].{section}[{index}].{name}", []).append(
                        f"refers to condition {ref!r}, which the timeline does not define (known: {', '.join(sorted(known))})"
                    )
        if errors:
            raise ValidationError(errors)


# -- loading ------------------------------------------------------------------------------------------------
def _flatten(messages: Any, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                part = prefix
            elif isinstance(key, int):
                part = f"{prefix}[{key}]"
            elif key.startswith("days[") or "." in key:  # already a path (from _whole)
                part = f"{prefix}.{key}" if prefix else key
            else:
                part = f"{prefix}.{key}" if prefix else key
            out.extend(_flatten(value, part))
    elif isinstance(messages, list):
        for item in messages:
            out.extend(_flatten(item, prefix) if isinstance(item, (dict, list)) else [(prefix, str(item))])
    else:
        out.append((prefix, str(messages)))
    return out


def _line_index(text: str) -> dict[str, int]:
    """path -> 1-based line of that node in the YAML text (best effort)."""
    lines: dict[str, int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: Any, path: str) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                child = f"{path}.{key_node.value}" if path else str(key_node.value)
                lines[child] = key_node.start_mark.line + 1
                walk(value_node, child)
                lines[child] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    if root is not None:
        walk(root, "")
    return lines


def _line_of(path: str, lines: dict[str, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return lines.get(path) or lines.get("")


def load_timeline_text(text: str, file: str = "<timeline>") -> dict[str, Any]:
    """Parse and check a timeline; raises TimelineError listing every problem with its location."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TimelineError([TimelineProblem(file, "", f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                             mark.line + 1 if mark else None)]) from None
    if not isinstance(raw, dict):
        raise TimelineError([TimelineProblem(file, "", "a timeline is a YAML mapping (case:, title:, source:, ...)")])
    raw = _dates_to_text(raw)
    try:
        return TimelineSchema().load(raw)
    except ValidationError as exc:
        lines = _line_index(text)
        problems = [TimelineProblem(file, path, message, _line_of(path, lines)) for path, message in _flatten(exc.messages)]
        problems.sort(key=lambda p: (p.line or 0, p.path))
        raise TimelineError(problems) from None


def load_timeline(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TimelineError([TimelineProblem(str(path), "", f"cannot read: {exc.strerror}")]) from None
    return load_timeline_text(text, str(path))


def _dates_to_text(value: Any) -> Any:
    """YAML reads 2024-01-01 as a date; marshmallow's Date field wants the ISO text."""
    if isinstance(value, dict):
        return {k: _dates_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_text(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
