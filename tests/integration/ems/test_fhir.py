"""The FHIR handoff checked by validators we did not write (fhir.resources, and HL7's R4 JSON
schema under ajv), by the Bundle and Composition invariants written out in Python, and by
finding every value the crew entered."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem

from tests.integration.ems.conftest import PNG, Scene, answer, open_case, send
from tests.support import Actors

SCHEMA_CHECK = Path(__file__).parent / "fhirschema"


@pytest.fixture(scope="session")
def fhir_schema() -> Path:
    """HL7's fhir.schema.json (R4) and ajv, installed from the lock file into the test-only folder."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to validate against the HL7 R4 JSON schema")
    if not (SCHEMA_CHECK / "node_modules" / "@asymmetrik" / "fhir-json-schema-validator").exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=SCHEMA_CHECK, check=True, timeout=300
        )
    return SCHEMA_CHECK / "validate.cjs"


async def schema_errors(script: Path, resource: dict[str, Any]) -> list[Any]:
    process = await asyncio.create_subprocess_exec(
        "node", str(script), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await process.communicate(json.dumps(resource).encode())
    assert process.returncode == 0, err.decode()
    verdict: dict[str, Any] = json.loads(out)
    errors: list[Any] = verdict["errors"]
    return errors


def references(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return found + [r for value in node.values() for r in references(value)]
    if isinstance(node, list):
        return [r for value in node for r in references(value)]
    return []


def invariant_violations(bundle: dict[str, Any]) -> list[str]:
    """The FHIRPath invariants of Bundle and Composition that a document must keep, in Python."""
    problems = []
    entries = bundle["entry"]
    seen: dict[str, set[str | None]] = {}
    for entry in entries:  # bdl-7: fullUrl unique, unless the versions differ
        version = entry["resource"].get("meta", {}).get("versionId")
        if version in seen.setdefault(entry["fullUrl"], set()):
            problems.append(f"bdl-7: {entry['fullUrl']} twice")
        seen[entry["fullUrl"]].add(version)
    identifier = bundle.get("identifier", {})
    if not (identifier.get("system") and identifier.get("value")):
        problems.append("bdl-9: a document needs an identifier with system and value")
    if not bundle.get("timestamp"):
        problems.append("bdl-10: a document needs a timestamp")
    if entries[0]["resource"]["resourceType"] != "Composition":
        problems.append("bdl-11: the first resource of a document must be its Composition")
    for entry in entries:  # bdl-8: fullUrl cannot be a version specific reference
        if "/_history/" in entry["fullUrl"]:
            problems.append(f"bdl-8: {entry['fullUrl']}")
    urls = set(seen)
    problems += [f"unresolved reference {r}" for r in references(bundle) if r not in urls]
    for section in entries[0]["resource"]["section"]:
        if not (section.get("text") or section.get("entry") or section.get("section")):
            problems.append(f"cmp-1: section {section['title']} is empty")
        if section.get("emptyReason") and section.get("entry"):
            problems.append(f"cmp-2: section {section['title']} has entries and an emptyReason")
    for resource in (entry["resource"] for entry in entries):
        if resource["resourceType"] == "Observation":
            codes = {(c["system"], c["code"]) for c in resource["code"].get("coding", [])}
            for component in resource.get("component", []):
                if codes & {(c["system"], c["code"]) for c in component["code"]["coding"]}:
                    problems.append("obs-7: a component repeats the observation's code")
            if "dataAbsentReason" in resource and any(k.startswith("value") for k in resource):
                problems.append("obs-6: dataAbsentReason with a value")
        if resource["resourceType"] == "AllergyIntolerance" and "clinicalStatus" not in resource:
            problems.append("ait-1: clinicalStatus is required")
    return problems


async def export(http: httpx.AsyncClient, scene: Scene, case_id: int) -> dict[str, Any]:
    response = await http.get(f"/v1/ems/cases/{case_id}/fhir", headers=scene.paramedic.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle: dict[str, Any] = response.json()
    return bundle


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def resolve(bundle: dict[str, Any], reference: dict[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == reference["reference"])
    return found


def observation(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [o for o in resources(bundle, "Observation") if any(c["code"] == code for c in o["code"]["coding"])]


def categories(resource: dict[str, Any]) -> set[str]:
    return {c["code"] for category in resource["category"] for c in category["coding"]}


async def assert_valid(bundle: dict[str, Any], schema: Path) -> None:
    Bundle.model_validate(bundle)
    assert await schema_errors(schema, bundle) == []
    assert invariant_violations(bundle) == []


async def test_handoff_carries_every_field_the_crew_entered(
    http: httpx.AsyncClient, actors: Actors, scene: Scene, base_url: str, fhir_schema: Path
) -> None:
    chosen = await actors.organization("hospital", "水戸中央病院 Mito Central Hospital")
    declining = await actors.organization("hospital", "ひたちなか総合病院")
    chosen_er = await actors.member("hospital", "er_staff", chosen)
    declining_er = await actors.member("hospital", "er_staff", declining)
    case = await open_case(
        http,
        scene,
        estimatedAge=67,
        sex="female",
        chiefComplaint="呼吸困難 shortness of breath since 05:10",
        jcs="II-20",
        gcs={"e": 3, "v": 4, "m": 5},
        vitals={"sbp": 161, "dbp": 97, "hr": 123, "rr": 29, "spo2": 87, "temp": 38.6},
        allergies=["penicillin ペニシリン", "そば buckwheat"],
        medications=["warfarin 2mg ワーファリン", "amlodipine 5mg"],
        location={"lat": 36.3658, "lon": 140.4712},
        etaMinutes=17,
    )
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
    added = await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": later.isoformat(), "sbp": 142, "dbp": 81, "hr": 111, "rr": 22, "spo2": 94, "temp": 38.1},
        headers=scene.paramedic.headers,
    )
    assert added.status_code == 201, added.text
    photo = await http.post(
        f"/v1/ems/cases/{case['id']}/attachments",
        content=PNG,
        headers={**scene.paramedic.headers, "Content-Type": "image/png"},
    )
    assert photo.status_code == 201, photo.text
    first, second = await send(http, scene, case["id"], [chosen, declining])
    assert (await answer(http, chosen_er, first["requestId"], department="neurology")).status_code == 201
    declined = await answer(http, declining_er, second["requestId"], "decline", reason="treating_another_patient")
    assert declined.status_code == 201
    destination = await http.post(
        f"/v1/ems/cases/{case['id']}/destination", json={"hospitalId": chosen}, headers=scene.paramedic.headers
    )
    assert destination.status_code == 201, destination.text

    bundle = await export(http, scene, case["id"])
    await assert_valid(bundle, fhir_schema)

    [patient] = resources(bundle, "Patient")
    assert patient["gender"] == "female"
    [age] = observation(bundle, "30525-0")
    assert age["valueQuantity"]["value"] == 67
    assert "vital-signs" not in categories(age)
    [encounter] = resources(bundle, "Encounter")
    assert encounter["reasonCode"][0]["text"] == "呼吸困難 shortness of breath since 05:10"
    [jcs] = [o for o in resources(bundle, "Observation") if o["code"]["coding"][0]["code"] == "JCS"]
    assert jcs["code"]["coding"][0]["system"] == f"{base_url}/fhir/CodeSystem/jcs"
    assert jcs["valueCodeableConcept"]["coding"][0] == {
        "system": f"{base_url}/fhir/CodeSystem/jcs",
        "code": "II-20",
        "display": "Opens eyes to loud voice",
    }
    assert categories(jcs) == {"survey"}
    [gcs] = observation(bundle, "9269-2")
    assert categories(gcs) == {"survey"}
    assert gcs["valueInteger"] == 12
    assert [c["valueInteger"] for c in gcs["component"]] == [3, 4, 5]

    taken = {o["effectiveDateTime"] for o in resources(bundle, "Observation") if "vital-signs" in categories(o)}
    assert len(taken) == 2
    for code, values in (("8867-4", {123, 111}), ("9279-1", {29, 22}), ("2708-6", {87, 94}), ("8310-5", {38.6, 38.1})):
        assert {o["valueQuantity"]["value"] for o in observation(bundle, code)} == values, code
    pressures = {tuple(c["valueQuantity"]["value"] for c in o["component"]) for o in observation(bundle, "85354-9")}
    assert pressures == {(161, 97), (142, 81)}

    assert sorted(a["code"]["text"] for a in resources(bundle, "AllergyIntolerance")) == sorted(
        ["penicillin ペニシリン", "そば buckwheat"]
    )
    assert sorted(m["medicationCodeableConcept"]["text"] for m in resources(bundle, "MedicationStatement")) == sorted(
        ["warfarin 2mg ワーファリン", "amlodipine 5mg"]
    )

    scene_stay, arrival = encounter["location"]
    assert resolve(bundle, scene_stay["location"])["position"] == {"latitude": 36.3658, "longitude": 140.4712}
    assert scene_stay["status"] == "completed"
    assert encounter["extension"][0]["valueDuration"]["value"] == 17
    opened = datetime.fromisoformat(case["openedAt"])
    assert datetime.fromisoformat(arrival["period"]["start"]) == opened + timedelta(minutes=17)
    assert arrival["status"] == "planned"
    assert arrival["location"] == encounter["hospitalization"]["destination"]
    place = resolve(bundle, encounter["hospitalization"]["destination"])
    assert resolve(bundle, place["managingOrganization"])["name"] == "水戸中央病院 Mito Central Hospital"
    assert encounter["serviceType"]["text"] == "neurology"
    assert encounter["status"] == "in-progress"
    assert "end" not in encounter["period"]

    [media] = resources(bundle, "Media")
    assert media["content"]["url"] == f"{base_url}/v1/ems/cases/{case['id']}/attachments/{photo.json()['id']}"
    assert (media["content"]["contentType"], media["content"]["size"]) == ("image/png", len(PNG))
    tasks = {resolve(bundle, t["owner"])["name"]: t for t in resources(bundle, "Task")}
    assert tasks["水戸中央病院 Mito Central Hospital"]["status"] == "completed"
    assert tasks["水戸中央病院 Mito Central Hospital"]["output"][0]["valueString"] == "neurology"
    assert tasks["ひたちなか総合病院"]["statusReason"]["coding"][0]["code"] == "treating_another_patient"
    [composition] = resources(bundle, "Composition")
    assert composition["status"] == "final"


async def test_before_a_destination_the_encounter_is_at_the_scene_and_the_document_preliminary(
    http: httpx.AsyncClient, scene: Scene, fhir_schema: Path
) -> None:
    case = await open_case(http, scene, allergies=[], medications=[])
    bundle = await export(http, scene, case["id"])
    await assert_valid(bundle, fhir_schema)
    [encounter] = resources(bundle, "Encounter")
    assert encounter["status"] == "in-progress"
    assert "hospitalization" not in encounter
    assert [stay["status"] for stay in encounter["location"]] == ["active"]
    [composition] = resources(bundle, "Composition")
    assert composition["status"] == "preliminary"
    empty = {s["title"]: s for s in composition["section"] if "entry" not in s}
    assert {"Allergies (アレルギー)", "Medications (服用薬)"} <= set(empty)


async def test_each_export_is_a_new_bundle_of_one_versioned_composition(http: httpx.AsyncClient, scene: Scene) -> None:
    case = await open_case(http, scene)
    first, again = await export(http, scene, case["id"]), await export(http, scene, case["id"])
    assert first["identifier"]["value"] != again["identifier"]["value"]
    assert first["identifier"]["system"] == "urn:ietf:rfc:3986"

    def composition(bundle: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = bundle["entry"][0]["resource"]
        return found

    assert composition(first)["identifier"] == composition(again)["identifier"]
    assert composition(first)["meta"]["versionId"] == composition(again)["meta"]["versionId"] == "1"
    assert composition(first)["date"] == composition(again)["date"]
    await http.post(
        f"/v1/ems/cases/{case['id']}/vitals",
        json={"takenAt": datetime.now(UTC).isoformat(), "hr": 99},
        headers=scene.paramedic.headers,
    )
    changed = await export(http, scene, case["id"])
    assert composition(changed)["identifier"] == composition(first)["identifier"]
    assert composition(changed)["meta"]["versionId"] == "2"
    assert composition(changed)["date"] > composition(first)["date"]
    assert [e["fullUrl"] for e in changed["entry"]][: len(first["entry"])] == [e["fullUrl"] for e in first["entry"]]


async def test_jcs_code_system_is_published_at_its_canonical_url(
    http: httpx.AsyncClient, scene: Scene, base_url: str, fhir_schema: Path
) -> None:
    response = await http.get("/fhir/CodeSystem/jcs")  # public: no login
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    system = response.json()
    CodeSystem.model_validate(system)
    assert await schema_errors(fhir_schema, system) == []
    assert system["url"] == f"{base_url}/fhir/CodeSystem/jcs"
    levels = {concept["code"] for concept in system["concept"]}
    assert levels == {"JCS", "0", "I-1", "I-2", "I-3", "II-10", "II-20", "II-30", "III-100", "III-200", "III-300"}
    bundle = await export(http, scene, (await open_case(http, scene))["id"])
    coded = [
        coding
        for o in resources(bundle, "Observation")
        for coding in (*o["code"]["coding"], *o.get("valueCodeableConcept", {}).get("coding", []))
        if coding["system"] == system["url"]
    ]
    assert {c["code"] for c in coded} == {"JCS", "I-1"}
    assert all(c["code"] in levels for c in coded)
