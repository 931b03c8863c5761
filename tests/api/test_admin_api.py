"""The admin API: business data, availability, bookings with 201/409/422 (never 500), and its auth."""

from __future__ import annotations

from typing import Any

import pytest
from admin_testkit import ADMIN_KEY, REMOTE, ClientFactory
from fastapi.testclient import TestClient

TUESDAY_10 = "2030-03-05T10:00:00+02:00"
ANA = {"client_name": "Ana Pop", "client_phone": "0722 123 456"}


def _service_id(api: TestClient, name: str) -> int:
    services = api.get("/api/services").json()
    return int(next(s["id"] for s in services if s["name"] == name))


def _book(api: TestClient, **fields: Any) -> Any:
    body = {"service_id": _service_id(api, "Tuns"), "start": TUESDAY_10, **ANA, **fields}
    return api.post("/api/appointments", json=body)


def test_services_hours_and_menu(api: TestClient) -> None:
    services = api.get("/api/services")
    assert services.status_code == 200
    tuns = next(s for s in services.json() if s["name"] == "Tuns")
    assert tuns == {
        "id": tuns["id"],
        "name": "Tuns",
        "category": "Păr",
        "duration_min": 45,
        "price": 120.0,
        "active": True,
    }

    hours = api.get("/api/hours").json()
    assert [(h["weekday"], h["opens"], h["closes"]) for h in hours] == [
        *((day, "09:00", "19:00") for day in range(5)),
        (5, "10:00", "16:00"),
    ]
    assert hours[0]["day"] == "Monday"
    bar_hours = api.get("/api/hours", params={"business": "blue-note"}).json()
    assert len(bar_hours) == 7 and bar_hours[6]["day"] == "Sunday"

    menu = api.get("/api/menu").json()
    mojito = next(i for i in menu if i["name"] == "Mojito")
    assert (mojito["price"], mojito["alcoholic"], mojito["stock"], mojito["available"]) == (
        32.0,
        True,
        40,
        True,
    )
    assert next(i for i in menu if i["name"] == "Salted Almonds")["available"] is False
    assert api.get("/api/orders").json() == []


def test_business_selection(api: TestClient) -> None:
    assert api.get("/api/services", params={"business": "blue-note"}).json() == []
    assert api.get("/api/menu", params={"business": "bella"}).json() == []
    missing = api.get("/api/services", params={"business": "nowhere"})
    assert missing.status_code == 404 and missing.json()["detail"]["code"] == "unknown_business"
    assert api.get("/api/services", params={"business": "bad slug!"}).status_code == 422
    assert api.get("/api/services", params={"business": "x\x00"}).status_code == 422


def test_availability_lists_slots_with_iso_starts(api: TestClient) -> None:
    tuns = _service_id(api, "Tuns")
    response = api.get("/api/availability", params={"service_id": tuns, "date": "2030-03-05"})
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "open" and body["duration_min"] == 45 and body["business"] == "bella"
    assert body["slots"][0] == {"start": "2030-03-05T09:00:00+02:00", "end": "2030-03-05T09:45:00+02:00"}
    assert body["slots"][-1]["start"] == "2030-03-05T18:15:00+02:00"

    assert _book(api).status_code == 201
    starts = [
        s["start"]
        for s in api.get("/api/availability", params={"service_id": tuns, "date": "2030-03-05"}).json()[
            "slots"
        ]
    ]
    assert "2030-03-05T10:00:00+02:00" not in starts and "2030-03-05T09:15:00+02:00" in starts
    assert "2030-03-05T09:30:00+02:00" not in starts  # 09:30-10:15 would overlap

    sunday = api.get("/api/availability", params={"service_id": tuns, "date": "2030-03-10"}).json()
    assert (sunday["state"], sunday["slots"]) == ("closed", [])
    past = api.get("/api/availability", params={"service_id": tuns, "date": "2030-03-01"}).json()
    assert (past["state"], past["slots"]) == ("past", [])


@pytest.mark.parametrize(
    "params",
    [
        {"service_id": 999, "date": "2030-03-05"},
        {"service_id": "tuns", "date": "2030-03-05"},
        {"service_id": 1, "date": "mâine"},
        {"service_id": 1},
        {"date": "2030-03-05"},
        {"service_id": 2**40, "date": "2030-03-05"},
    ],
)
def test_availability_refuses_invalid_queries(api: TestClient, params: dict[str, Any]) -> None:
    assert api.get("/api/availability", params=params).status_code == 422


def test_post_books_then_409_for_the_same_time(api: TestClient) -> None:
    created = _book(api)
    assert created.status_code == 201, created.text
    appointment = created.json()
    assert appointment["start"] == TUESDAY_10 and appointment["end"] == "2030-03-05T10:45:00+02:00"
    assert (appointment["client_name"], appointment["client_phone"]) == ("Ana Pop", "+40722123456")
    assert (appointment["status"], appointment["source"], appointment["service"]) == (
        "booked",
        "admin",
        "Tuns",
    )

    taken = _book(api, start="2030-03-05T10:30:00+02:00", client_phone="0733 000 111")
    assert taken.status_code == 409
    detail = taken.json()["detail"]
    assert detail["code"] == "taken" and detail["alternatives"]
    assert detail["alternatives"][0] == "2030-03-05T10:45:00+02:00"

    listed = api.get("/api/appointments").json()
    assert [a["id"] for a in listed] == [appointment["id"]]
    # The same client (one phone, however it is written) books again at another time.
    again = _book(api, start="2030-03-05T11:00:00", client_phone="+40 722-123-456")  # local time, no offset
    assert again.status_code == 201 and again.json()["client_id"] == appointment["client_id"]
    assert again.json()["start"] == "2030-03-05T11:00:00+02:00"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"start": "2030-03-04T08:00:00+02:00"}, "past"),
        ({"start": "2030-03-10T10:00:00+02:00"}, "closed"),
        ({"start": "2030-03-05T18:30:00+02:00"}, "outside_hours"),
        ({"service_id": 999}, "unknown_service"),
        ({"client_phone": "0722 12"}, "invalid_phone"),
        ({"client_name": "   "}, "invalid_name"),
    ],
)
def test_post_refuses_invalid_bookings_with_422(api: TestClient, fields: dict[str, Any], code: str) -> None:
    response = _book(api, **fields)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]["code"] == code
    assert api.get("/api/appointments").json() == []


WHO = '"client_name": "A", "client_phone": "0722123456"'


@pytest.mark.parametrize(
    "body",
    [
        '{"service_id": 1, "start": ',
        "not json at all",
        "[]",
        '{"service_id": 1}',
        '{"service_id": "one", "start": "2030-03-05T10:00", ' + WHO + "}",
        '{"service_id": 1, "start": "tomorrow", ' + WHO + "}",
        '{"service_id": 99999999999, "start": "2030-03-05T10:00", ' + WHO + "}",
        '{"service_id": 1, "start": "2030-03-05T10:00", "x": 1, ' + WHO + "}",
        '{"service_id": 1, "start": "2030-03-05", "client_name": "A\\u0000", "client_phone": "0722123456"}',
    ],
)
def test_post_malformed_input_is_422_never_500(api: TestClient, body: str) -> None:
    response = api.post(
        "/api/appointments", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert api.get("/api/appointments").json() == []


def test_delete_cancels_and_frees_the_time(api: TestClient) -> None:
    appointment = _book(api).json()
    deleted = api.delete(f"/api/appointments/{appointment['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "cancelled"
    assert api.delete(f"/api/appointments/{appointment['id']}").status_code == 404
    assert api.delete("/api/appointments/424242").status_code == 404
    assert api.delete("/api/appointments/0").status_code == 422
    assert _book(api).status_code == 201  # the time is free again
    statuses = [a["status"] for a in api.get("/api/appointments").json()]
    assert sorted(statuses) == ["booked", "cancelled"]
    assert [a["status"] for a in api.get("/api/appointments", params={"status": "booked"}).json()] == [
        "booked"
    ]
    assert api.get("/api/appointments", params={"since": "2030-03-06"}).json() == []
    assert len(api.get("/api/appointments", params={"until": "2030-03-05"}).json()) == 2


def test_no_admin_key_serves_loopback_only(make_client: ClientFactory) -> None:
    remote = make_client(client=REMOTE)
    for path in ("/api/services", "/api/hours", "/api/menu", "/api/orders", "/api/appointments"):
        assert remote.get(path).status_code == 403
    assert remote.post("/api/appointments", json={}).status_code == 403
    assert remote.delete("/api/appointments/1").status_code == 403


def test_an_admin_key_is_required_when_configured(make_client: ClientFactory) -> None:
    keyed = make_client(admin_key=ADMIN_KEY, client=REMOTE)
    assert keyed.get("/api/services").status_code == 401
    assert keyed.get("/api/services", headers={"Authorization": "Bearer wrong"}).status_code == 401
    good = {"Authorization": f"Bearer {ADMIN_KEY}"}
    assert keyed.get("/api/services", headers=good).status_code == 200
    assert keyed.get("/api/menu", headers=good).status_code == 200
    # Loopback is no exception once a key is set.
    local = make_client(admin_key=ADMIN_KEY)
    assert local.get("/api/orders").status_code == 401


def test_the_openapi_page_documents_every_route(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/services", "/api/hours", "/api/menu", "/api/orders", "/api/availability"):
        assert "get" in paths[path]
    assert {"get", "post"} <= set(paths["/api/appointments"])
    assert "delete" in paths["/api/appointments/{appointment_id}"]
    post = paths["/api/appointments"]["post"]
    assert {"201", "409", "422"} <= set(post["responses"])
    assert spec["components"]["schemas"]["AppointmentCreate"]["required"] == [
        "service_id",
        "start",
        "client_name",
        "client_phone",
    ]
    assert api.get("/docs").status_code == 200
