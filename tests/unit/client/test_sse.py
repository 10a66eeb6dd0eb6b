"""The server-sent events parser."""

from __future__ import annotations

from headwater.client import SSEParser, parse_sse


def test_events_with_ids_and_json_data() -> None:
    lines = [
        ": ping",
        "event: state",
        "id: 1-0",
        'data: {"version": 1}',
        "",
        "event: log",
        "id: 1-5",
        'data: {"message": "hi"}',
        "",
        "event: end",
        "id: 1-5",
        'data: {"state_type": "Success"}',
        "",
    ]
    events = list(parse_sse(lines))
    assert [e["event"] for e in events] == ["state", "log", "end"]
    assert events[0] == {"event": "state", "id": "1-0", "data": {"version": 1}}
    assert events[1]["data"] == {"message": "hi"}


def test_multiline_data_joins_with_newlines_and_text_stays_text() -> None:
    events = list(parse_sse(["data: first", "data: second", ""]))
    assert events == [{"event": "message", "id": None, "data": "first\nsecond"}]


def test_field_without_space_crlf_and_comments() -> None:
    events = list(parse_sse(["event:state\r\n", "data:{}\r\n", ":comment", "\r\n"]))
    assert events == [{"event": "state", "id": None, "data": {}}]


def test_blank_lines_alone_dispatch_nothing_and_partial_event_is_dropped() -> None:
    assert list(parse_sse(["", "", "event: state", "data: {}"])) == []


def test_last_id_is_remembered() -> None:
    parser = SSEParser()
    for line in ["id: 7-1", "data: {}", ""]:
        parser.feed(line)
    assert parser.last_id == "7-1"
