"""The handoff as a FHIR R4 document Bundle, carrying everything the crew entered.

- Composition (LOINC 67796-3 "EMS patient care report"), one section per kind of content,
  each with a narrative so a receiving system that shows only the document text loses nothing.
- Patient; Encounter (class EMER) following the case: the scene as a Location with its
  position, the reported ETA, and once a hospital is confirmed the destination (a Location
  managed by the hospital's named Organization) with the accepting department as serviceType.
- AllergyIntolerance and MedicationStatement for what the crew heard at the scene: free text,
  coded as `text` only, because no code is known and a guessed one would be worse than none.
- Observations: vital signs (category vital-signs, LOINC), GCS (9269-2 with its three parts)
  and JCS as assessments (category survey), the estimated age as an exam finding (not a vital
  sign). JCS is coded in our CodeSystem, published at `{API}/fhir/CodeSystem/jcs`.
- Media for each photo (its URL under the API; the bytes stay behind access control), and a
  Task per hospital inquiry with the hospital's answer.

Resource ids are UUIDv5 of the case and the resource's role, so every export of a case uses
the same fullUrls (a receiver can deduplicate). The document is versioned: `handoff_document`
builds the content, the service records a version whenever that content changes, and
`as_bundle` wraps it with a Bundle.identifier that is new on every export.
"""

from __future__ import annotations

import hashlib
import html
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DECLINE_REASON_SYSTEM = "http://musubi.jp/fhir/CodeSystem/ems-decline-reason"
CASE_ID_SYSTEM = "http://musubi.jp/fhir/NamingSystem/ems-case"
HANDOFF_ID_SYSTEM = "http://musubi.jp/fhir/NamingSystem/ems-handoff"
ORGANIZATION_ID_SYSTEM = "http://musubi.jp/fhir/NamingSystem/organization"
_NAMESPACE = uuid.UUID("6d757375-6269-4a50-8000-656d73636173")  # fixed: ids must be stable across exports

JCS_PATH = "/fhir/CodeSystem/jcs"
# The Japan Coma Scale (3-3-9度方式): the observable and its ten levels, as Japanese EMS forms write them.
JCS_SCALE = ("JCS", "Japan Coma Scale", "Japan Coma Scale (3-3-9 度方式): level of consciousness")
JCS_LEVELS = (
    ("0", "Alert", "意識清明 Alert"),
    ("I-1", "Not quite clear", "だいたい意識清明だが、今ひとつはっきりしない Almost fully conscious, not quite clear"),
    ("I-2", "Disoriented", "見当識障害がある Disoriented (time, place or person)"),
    ("I-3", "Cannot state own name", "自分の名前、生年月日が言えない Cannot state own name or date of birth"),
    ("II-10", "Opens eyes to voice", "普通の呼びかけで容易に開眼する Opens eyes easily when spoken to"),
    ("II-20", "Opens eyes to loud voice", "大きな声または体を揺さぶることにより開眼する Opens eyes to a loud voice"),
    ("II-30", "Opens eyes to pain", "痛み刺激を加えつつ呼びかけを繰り返すと辛うじて開眼する Barely opens eyes to pain"),
    ("III-100", "Localises pain", "痛み刺激に対し、払いのけるような動作をする Brushes away a painful stimulus"),
    ("III-200", "Reacts to pain", "痛み刺激で少し手足を動かしたり顔をしかめる Moves a little or grimaces to pain"),
    ("III-300", "No response to pain", "痛み刺激に反応しない No response to pain"),
)
_JCS_DISPLAY = dict((code, display) for code, display, _ in JCS_LEVELS)

_SIMPLE_VITALS = (  # (column, LOINC codings, UCUM unit); SpO2 as the R4 vital-signs profile codes it
    ("hr", (("8867-4", "Heart rate"),), "/min"),
    ("rr", (("9279-1", "Respiratory rate"),), "/min"),
    ("spo2", (("2708-6", "Oxygen saturation in Arterial blood"),
              ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")), "%"),
    ("temp", (("8310-5", "Body temperature"),), "Cel"),
)  # fmt: skip
_TASK_STATUS = {
    "pending": "requested",
    "accepted": "accepted",
    "declined": "rejected",
    "selected": "completed",
    "released": "cancelled",
}


def jcs_system(base_url: str) -> str:
    return base_url.rstrip("/") + JCS_PATH


def jcs_code_system(base_url: str) -> dict[str, Any]:
    """Our CodeSystem for the Japan Coma Scale, served at its own canonical URL."""
    return {
        "resourceType": "CodeSystem",
        "id": "jcs",
        "url": jcs_system(base_url),
        "version": "1",
        "name": "JapanComaScale",
        "title": "Japan Coma Scale (JCS)",
        "status": "active",
        "experimental": False,
        "publisher": "Musubi",
        "description": "The Japan Coma Scale (3-3-9 度方式) as Japanese EMS records it: the observable `JCS` and "
        "its ten levels, from 0 (alert) to III-300 (no response to pain).",
        "caseSensitive": True,
        "content": "complete",
        "count": 1 + len(JCS_LEVELS),
        "concept": [
            {"code": JCS_SCALE[0], "display": JCS_SCALE[1], "definition": JCS_SCALE[2]},
            *({"code": code, "display": display, "definition": definition}
              for code, display, definition in JCS_LEVELS),
        ],
    }  # fmt: skip


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display}


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)], "text": display}


def _category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [_coding(OBSERVATION_CATEGORY, code, display)]}]


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _narrative(*lines: str) -> dict[str, str]:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines) or "<p>-</p>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def handoff_document(
    case: asyncpg.Record,
    vitals: Sequence[asyncpg.Record],
    requests: Sequence[asyncpg.Record],
    attachments: Sequence[asyncpg.Record],
    fire_department: str,
    base_url: str,
) -> dict[str, Any]:
    """The content of the document: the Composition and its resources, without anything that
    differs between two exports of the same data (Bundle.identifier, timestamps of the export,
    the version). `requests` rows carry the hospital's name."""
    case_id = case["id"]
    api = base_url.rstrip("/")

    def url(role: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{case_id}/{role}')}"

    def ref(role: str) -> dict[str, str]:
        return {"reference": url(role)}

    entries: list[tuple[str, dict[str, Any]]] = []

    def add(role: str, resource: dict[str, Any]) -> str:
        entries.append((role, resource))
        return role

    opened: datetime = case["opened_at"]
    selected = next((r for r in requests if r["status"] == "selected"), None)

    add("patient", {"resourceType": "Patient", "gender": case["sex"] or "unknown"})
    add(
        "fire-department",
        {
            "resourceType": "Organization",
            "identifier": [{"system": ORGANIZATION_ID_SYSTEM, "value": str(case["fire_department_id"])}],
            "name": fire_department,
        },
    )
    for request in requests:
        add(
            f"hospital-{request['hospital_id']}",
            {
                "resourceType": "Organization",
                "identifier": [{"system": ORGANIZATION_ID_SYSTEM, "value": str(request["hospital_id"])}],
                "type": [_concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov",
                                  "Healthcare Provider")],
                "name": request["hospital_name"],
            },
        )  # fmt: skip

    # -- the encounter: where, where to, by when -------------------------------------------
    encounter: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": [{"system": CASE_ID_SYSTEM, "value": str(case_id)}],
        # The crew has the patient until the hand-over at the hospital, which this system does
        # not record: the encounter stays in progress, and its period has no end yet.
        "status": "in-progress",
        "class": _coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "EMER", "emergency"),
        "type": [{"text": "Emergency medical transport (救急搬送)"}],
        "subject": ref("patient"),
        "period": {"start": opened.isoformat()},
        "serviceProvider": ref("fire-department"),
    }
    if case["chief_complaint"]:
        encounter["reasonCode"] = [{"text": case["chief_complaint"]}]
    locations: list[dict[str, Any]] = []
    transport: list[str] = []
    if case["lat"] is not None:
        add(
            "scene",
            {
                "resourceType": "Location",
                "status": "active",
                "name": "Scene (現場)",
                "mode": "instance",
                "physicalType": _concept("http://terminology.hl7.org/CodeSystem/location-physical-type", "si", "Site"),
                "position": {"latitude": case["lat"], "longitude": case["lon"]},
            },
        )
        # Japanese crews stay at the scene until a hospital accepts: they leave when the destination is set.
        scene_period = {"start": opened.isoformat()}
        if case["destination_at"] is not None:
            scene_period["end"] = case["destination_at"].isoformat()
        scene_status = "completed" if case["destination_at"] else "active"
        locations.append({"location": ref("scene"), "status": scene_status, "period": scene_period})
        transport.append(f"Scene 現場: {case['lat']}, {case['lon']}")
    eta = None
    if case["eta_minutes"] is not None:
        eta = opened + timedelta(minutes=case["eta_minutes"])
        transport.append(f"ETA 到着予定: {case['eta_minutes']} min ({eta.isoformat()})")
    if selected is not None:
        hospital = f"hospital-{selected['hospital_id']}"
        add(
            "destination",
            {
                "resourceType": "Location",
                "status": "active",
                "name": selected["hospital_name"],
                "mode": "instance",
                "managingOrganization": ref(hospital),
            },
        )
        encounter["hospitalization"] = {"destination": ref("destination")}
        arrival: dict[str, Any] = {"location": ref("destination"), "status": "planned"}
        if eta is not None:
            arrival["period"] = {"start": eta.isoformat()}
        locations.append(arrival)
        transport.append(f"Destination 搬送先: {selected['hospital_name']}")
        if selected["department"]:
            encounter["serviceType"] = {"text": selected["department"]}
            transport.append(f"Department 診療科: {selected['department']}")
    if eta is not None:
        # R4 has no element for an expected arrival before the destination is known; the
        # duration as reported travels as an extension, the instant on the planned location.
        encounter["extension"] = [
            {"url": f"{api}/fhir/StructureDefinition/ems-eta", "valueDuration": _quantity(case["eta_minutes"], "min")}
        ]
    if locations:
        encounter["location"] = locations
    add("encounter", encounter)

    # -- what the crew heard: allergies, medications ---------------------------------------
    allergies = [
        add(
            f"allergy-{index}",
            {
                "resourceType": "AllergyIntolerance",
                "clinicalStatus": _concept(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active"
                ),
                # Told at the scene, not confirmed by a clinician.
                "verificationStatus": _concept(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "unconfirmed",
                    "Unconfirmed",
                ),
                "code": {"text": text},
                "patient": ref("patient"),
                "encounter": ref("encounter"),
                "recordedDate": opened.isoformat(),
            },
        )
        for index, text in enumerate(case["allergies"] or [])
    ]  # fmt: skip
    medications = [
        add(
            f"medication-{index}",
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": {"text": text},
                "subject": ref("patient"),
                "context": ref("encounter"),
                "dateAsserted": opened.isoformat(),
            },
        )
        for index, text in enumerate(case["medications"] or [])
    ]

    # -- observations -------------------------------------------------------------------------
    def observation(role: str, category: list[dict[str, Any]], code: dict[str, Any], at: datetime,
                    **value: Any) -> str:  # fmt: skip
        return add(
            role,
            {
                "resourceType": "Observation",
                "status": "final",
                "category": category,
                "code": code,
                "subject": ref("patient"),
                "encounter": ref("encounter"),
                "effectiveDateTime": at.isoformat(),
                "performer": [ref("fire-department")],
                **value,
            },
        )

    vital_signs = _category("vital-signs", "Vital Signs")
    assessments: list[str] = []
    if case["estimated_age"] is not None:
        assessments.append(
            observation(
                "age",
                _category("exam", "Exam"),
                _concept(LOINC, "30525-0", "Age"),
                opened,
                valueQuantity=_quantity(case["estimated_age"], "a"),
                method={"text": "Estimated by the ambulance crew"},
            )
        )
    if case["gcs_e"] is not None:
        assessments.append(
            observation(
                "gcs",
                _category("survey", "Survey"),
                _concept(LOINC, "9269-2", "Glasgow coma score total"),
                opened,
                valueInteger=case["gcs_e"] + case["gcs_v"] + case["gcs_m"],
                component=[
                    {
                        "code": _concept(LOINC, "9267-6", "Glasgow coma score eye opening"),
                        "valueInteger": case["gcs_e"],
                    },
                    {"code": _concept(LOINC, "9270-0", "Glasgow coma score verbal"), "valueInteger": case["gcs_v"]},
                    {"code": _concept(LOINC, "9268-4", "Glasgow coma score motor"), "valueInteger": case["gcs_m"]},
                ],
            )
        )
    if case["jcs"] is not None:
        system = jcs_system(api)
        assessments.append(
            observation(
                "jcs",
                _category("survey", "Survey"),
                _concept(system, JCS_SCALE[0], JCS_SCALE[1]),
                opened,
                valueCodeableConcept=_concept(system, case["jcs"], _JCS_DISPLAY[case["jcs"]]),
            )
        )
    measured: list[str] = []
    for v in vitals:
        at = v["taken_at"]
        if v["sbp"] is not None or v["dbp"] is not None:
            components = [
                {"code": _concept(LOINC, code, display), "valueQuantity": _quantity(v[column], "mm[Hg]")}
                for column, code, display in (
                    ("sbp", "8480-6", "Systolic blood pressure"),
                    ("dbp", "8462-4", "Diastolic blood pressure"),
                )
                if v[column] is not None
            ]
            measured.append(
                observation(f"bp-{v['id']}", vital_signs, _concept(LOINC, "85354-9", "Blood pressure panel"), at,
                            component=components)
            )  # fmt: skip
        for column, codings, unit in _SIMPLE_VITALS:
            if v[column] is not None:
                code = {"coding": [_coding(LOINC, c, d) for c, d in codings], "text": codings[0][1]}
                measured.append(
                    observation(f"{column}-{v['id']}", vital_signs, code, at,
                                valueQuantity=_quantity(float(v[column]), unit))
                )  # fmt: skip

    photos = [
        add(
            f"media-{a['id']}",
            {
                "resourceType": "Media",
                "status": "completed",
                "type": _concept("http://terminology.hl7.org/CodeSystem/media-type", "image", "Image"),
                "subject": ref("patient"),
                "encounter": ref("encounter"),
                "createdDateTime": a["created_at"].isoformat(),
                "content": {
                    "contentType": a["media_type"],
                    "url": f"{api}/v1/ems/cases/{case_id}/attachments/{a['id']}",
                    "size": a["size"],
                    "creation": a["created_at"].isoformat(),
                },
            },
        )
        for a in attachments
    ]

    inquiries = []
    for request in requests:
        task: dict[str, Any] = {
            "resourceType": "Task",
            "status": _TASK_STATUS[request["status"]],
            "intent": "order",
            "code": {"text": "Acceptance inquiry for emergency transport (受入照会)"},
            "focus": ref("encounter"),
            "for": ref("patient"),
            "authoredOn": request["sent_at"].isoformat(),
            "requester": ref("fire-department"),
            "owner": ref(f"hospital-{request['hospital_id']}"),
        }
        if request["reason"]:
            reason = request["reason"]
            task["statusReason"] = _concept(DECLINE_REASON_SYSTEM, reason, reason.replace("_", " "))
        if request["responded_at"]:
            task["lastModified"] = request["responded_at"].isoformat()
        if request["department"]:
            task["output"] = [{"type": {"text": "Accepting department"}, "valueString": request["department"]}]
        inquiries.append(add(f"task-{request['request_id']}", task))

    def section(title: str, code: dict[str, Any] | None, roles: list[str], lines: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {"title": title}
        if code is not None:
            found["code"] = code
        found["text"] = _narrative(*lines)
        if roles:
            found["entry"] = [ref(role) for role in roles]
        else:
            found["emptyReason"] = _concept(
                "http://terminology.hl7.org/CodeSystem/list-empty-reason", "unavailable", "Unavailable"
            )
        return found

    sections = [
        section("Transport (搬送)", None, ["encounter"], [case["chief_complaint"] or "", *transport]),
        section("Allergies (アレルギー)", _concept(LOINC, "48765-2", "Allergies and adverse reactions Document"),
                allergies, list(case["allergies"] or [])),
        section("Medications (服用薬)", _concept(LOINC, "10160-0", "History of Medication use Narrative"),
                medications, list(case["medications"] or [])),
        section("Assessments (意識レベル・推定年齢)", _concept(LOINC, "29545-1", "Physical findings Narrative"),
                assessments, [line for line in (
                    f"JCS {case['jcs']}" if case["jcs"] else "",
                    f"GCS E{case['gcs_e']}V{case['gcs_v']}M{case['gcs_m']}" if case["gcs_e"] is not None else "",
                    f"Estimated age 推定年齢 {case['estimated_age']}" if case["estimated_age"] is not None else "",
                ) if line]),
        section("Vital signs (バイタルサイン)", _concept(LOINC, "8716-3", "Vital signs"), measured,
                [f"{v['taken_at'].isoformat()}: BP {v['sbp']}/{v['dbp']} HR {v['hr']} RR {v['rr']} "
                 f"SpO2 {v['spo2']} T {v['temp']}" for v in vitals]),
        section("Photos (画像)", None, photos, [f"{a['media_type']}, {a['size']} bytes" for a in attachments]),
        section("Hospital acceptance inquiries (受入照会)", None, inquiries,
                [f"{r['hospital_name']}: {r['status']}" + (f" ({r['reason']})" if r["reason"] else "")
                 for r in requests]),
    ]  # fmt: skip
    composition = {
        "resourceType": "Composition",
        "identifier": {"system": HANDOFF_ID_SYSTEM, "value": str(case_id)},
        # Final once the destination is set; new vitals after that make a new version.
        "status": "final" if selected is not None else "preliminary",
        "type": _concept(LOINC, "67796-3", "EMS patient care report"),
        "subject": ref("patient"),
        "encounter": ref("encounter"),
        "author": [ref("fire-department")],
        "title": "EMS patient care report (救急活動記録)",
        "confidentiality": "R",
        "custodian": ref("fire-department"),
        "section": sections,
    }
    return {
        "entry": [{"fullUrl": url("composition"), "resource": composition}]
        + [{"fullUrl": url(role), "resource": resource} for role, resource in entries]
    }


def content_digest(document: dict[str, Any]) -> bytes:
    """SHA-256 of the document's content in a canonical JSON form: equal content, equal digest."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).digest()


def as_bundle(document: dict[str, Any], version: int, changed_at: datetime, now: datetime) -> dict[str, Any]:
    """The document as one export: a Bundle identified anew, around Composition version `version`."""
    entries = json.loads(json.dumps(document["entry"]))  # the caller's document stays as it was hashed
    composition = entries[0]["resource"]
    composition["meta"] = {"versionId": str(version), "lastUpdated": changed_at.isoformat()}
    composition["date"] = changed_at.isoformat()
    export = uuid.uuid4()
    return {
        "resourceType": "Bundle",
        "id": str(export),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{export}"},
        "type": "document",
        "timestamp": now.isoformat(),
        "entry": entries,
    }
