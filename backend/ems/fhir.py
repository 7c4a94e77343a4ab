"""The handoff as a FHIR R4 document Bundle: Composition (LOINC 67796-3 "EMS patient care
report"), Patient, Encounter, vital-sign Observations with LOINC codes, GCS (9269-2) with its
three components, JCS in a local code system, and one Task per hospital request.

Resource ids are UUIDv5 of the case and the resource's role, so the same case exports the
same ids every time (a receiving system can deduplicate).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
JCS_SYSTEM = "http://musubi.jp/fhir/CodeSystem/jcs"
ASSESSMENT_SYSTEM = "http://musubi.jp/fhir/CodeSystem/assessment"
DECLINE_REASON_SYSTEM = "http://musubi.jp/fhir/CodeSystem/ems-decline-reason"
CASE_ID_SYSTEM = "http://musubi.jp/fhir/NamingSystem/ems-case"
ORGANIZATION_ID_SYSTEM = "http://musubi.jp/fhir/NamingSystem/organization"
_NAMESPACE = uuid.UUID("6d757375-6269-4a50-8000-656d73636173")  # fixed: ids must be stable across exports

_VITAL_SIGNS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs", "display": "Vital Signs"}]}  # fmt: skip
# (column, LOINC code, display, UCUM unit)
_SIMPLE_VITALS = (
    ("hr", "8867-4", "Heart rate", "/min"),
    ("rr", "9279-1", "Respiratory rate", "/min"),
    ("spo2", "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    ("temp", "8310-5", "Body temperature", "Cel"),
)
_TASK_STATUS = {
    "pending": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "selected": "completed",
    "released": "cancelled",
}


def _code(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def case_bundle(
    case: asyncpg.Record,
    vitals: Sequence[asyncpg.Record],
    requests: Sequence[asyncpg.Record],
    department_name: str,
    now: datetime,
) -> dict[str, Any]:
    case_id = case["id"]

    def url(role: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{case_id}/{role}')}"

    def ref(role: str) -> dict[str, str]:
        return {"reference": url(role)}

    entries: list[tuple[str, dict[str, Any]]] = []
    patient: dict[str, Any] = {"resourceType": "Patient", "gender": case["sex"] or "unknown"}
    entries.append(("patient", patient))
    entries.append(("fire-department", {"resourceType": "Organization", "name": department_name}))
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "finished" if case["destination_at"] else "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER", "display": "emergency"},
        "subject": ref("patient"),
        "period": {"start": case["opened_at"].isoformat()},
        "serviceProvider": ref("fire-department"),
    }
    if case["chief_complaint"]:
        encounter["reasonCode"] = [{"text": case["chief_complaint"]}]
    entries.append(("encounter", encounter))

    def observation(role: str, code: dict[str, Any], at: datetime, **value: Any) -> str:
        entries.append(
            (
                role,
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [_VITAL_SIGNS],
                    "code": code,
                    "subject": ref("patient"),
                    "encounter": ref("encounter"),
                    "effectiveDateTime": at.isoformat(),
                    **value,
                },
            )
        )
        return role

    observed: list[str] = []
    opened = case["opened_at"]
    if case["estimated_age"] is not None:
        observed.append(
            observation(
                "age", _code(LOINC, "30525-0", "Age"), opened, valueQuantity=_quantity(case["estimated_age"], "a")
            )
        )
    if case["gcs_e"] is not None:
        total = case["gcs_e"] + case["gcs_v"] + case["gcs_m"]
        observed.append(
            observation(
                "gcs",
                _code(LOINC, "9269-2", "Glasgow coma score total"),
                opened,
                valueInteger=total,
                component=[
                    {"code": _code(LOINC, "9267-6", "Glasgow coma score eye opening"), "valueInteger": case["gcs_e"]},
                    {"code": _code(LOINC, "9270-0", "Glasgow coma score verbal"), "valueInteger": case["gcs_v"]},
                    {"code": _code(LOINC, "9268-4", "Glasgow coma score motor"), "valueInteger": case["gcs_m"]},
                ],
            )
        )
    if case["jcs"] is not None:
        observed.append(
            observation(
                "jcs",
                _code(ASSESSMENT_SYSTEM, "jcs", "Japan Coma Scale"),
                opened,
                valueCodeableConcept=_code(JCS_SYSTEM, case["jcs"], f"JCS {case['jcs']}"),
            )
        )
    for v in vitals:
        at = v["taken_at"]
        if v["sbp"] is not None or v["dbp"] is not None:
            components = [
                {"code": _code(LOINC, code, display), "valueQuantity": _quantity(v[column], "mm[Hg]")}
                for column, code, display in (
                    ("sbp", "8480-6", "Systolic blood pressure"),
                    ("dbp", "8462-4", "Diastolic blood pressure"),
                )
                if v[column] is not None
            ]
            observed.append(
                observation(f"bp-{v['id']}", _code(LOINC, "85354-9", "Blood pressure panel"), at, component=components)
            )
        for column, code, display, unit in _SIMPLE_VITALS:
            if v[column] is not None:
                observed.append(
                    observation(
                        f"{column}-{v['id']}",
                        _code(LOINC, code, display),
                        at,
                        valueQuantity=_quantity(float(v[column]), unit),
                    )
                )

    tasks = []
    for request in requests:
        hospital = f"hospital-{request['hospital_id']}"
        identifier = {"system": ORGANIZATION_ID_SYSTEM, "value": str(request["hospital_id"])}
        entries.append((hospital, {"resourceType": "Organization", "identifier": [identifier]}))
        task: dict[str, Any] = {
            "resourceType": "Task",
            "status": _TASK_STATUS[request["status"]],
            "intent": "order",
            "code": {"text": "Acceptance inquiry for emergency transport (受入照会)"},
            "focus": ref("encounter"),
            "for": ref("patient"),
            "authoredOn": request["sent_at"].isoformat(),
            "requester": ref("fire-department"),
            "owner": ref(hospital),
        }
        if request["reason"]:
            task["statusReason"] = _code(DECLINE_REASON_SYSTEM, request["reason"], request["reason"].replace("_", " "))
        if request["responded_at"]:
            task["lastModified"] = request["responded_at"].isoformat()
        role = f"task-{request['request_id']}"
        entries.append((role, task))
        tasks.append(role)

    sections = []
    if observed:
        sections.append({"title": "Vital signs and assessments", "code": _code(LOINC, "8716-3", "Vital signs"),
                         "entry": [ref(r) for r in observed]})  # fmt: skip
    if tasks:
        sections.append({"title": "Hospital acceptance inquiries", "entry": [ref(r) for r in tasks]})
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": _code(LOINC, "67796-3", "EMS patient care report"),
        "subject": ref("patient"),
        "encounter": ref("encounter"),
        "date": now.isoformat(),
        "author": [ref("fire-department")],
        "title": "EMS patient care report (救急活動記録)",
        "section": sections,
    }
    bundle_entries = [{"fullUrl": url("composition"), "resource": composition}]
    bundle_entries += [{"fullUrl": url(role), "resource": resource} for role, resource in entries]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": CASE_ID_SYSTEM, "value": str(case_id)},
        "type": "document",
        "timestamp": now.isoformat(),
        "entry": bundle_entries,
    }
