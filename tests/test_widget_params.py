"""The widget's parameters, checked in one place: defaults, accepted values and the message
for each bad one (naming the parameter and what is allowed)."""

from __future__ import annotations

import pytest

from server import widget_params


def test_defaults_follow_the_reference() -> None:
    params = widget_params.parse({})
    assert (params.type, params.duration, params.work, params.rest, params.rounds) == (
        "countdown", 300, 20, 10, 8)
    assert (params.theme, params.primary_color, params.lang, params.timezone) == (
        "dark", "6C63FF", "en", "UTC")
    assert params.show_title and params.show_date and params.alarm and params.show_brand
    assert params.problems == ()


def test_good_values_are_read() -> None:
    params = widget_params.parse({
        "type": "event", "target_date": "2026-05-10T14:30:00+02:00", "timezone": "Asia/Tokyo",
        "theme": "auto", "primary_color": "#0a0", "lang": "ko", "show_title": "0",
        "alarm": "0", "timer": "tmr_abc123", "utm_campaign": "ignored"})
    assert params.problems == ()
    assert params.target_ms == 1778416200000
    assert (params.primary_color, params.lang, params.show_title, params.alarm) == (
        "0A0", "ko", False, False)
    assert params.timer == "tmr_abc123"


@pytest.mark.parametrize(("query", "message"), [
    ({"duration": "-1"}, "duration must be a whole number from 1 to 316224000; got “-1”."),
    ({"duration": "1.5"}, "duration must be a whole number from 1 to 316224000; got “1.5”."),
    ({"rest": "x"}, "rest must be a whole number from 0 to 316224000; got “x”."),
    ({"rounds": "1001"}, "rounds must be a whole number from 1 to 1000; got “1001”."),
    ({"type": "stopwatch"}, "type must be one of: countdown, event, interval; got “stopwatch”."),
    ({"theme": "pink"}, "theme must be one of: light, dark, auto; got “pink”."),
    ({"primary_color": "zzz"},
     "primary_color must be 3 or 6 hexadecimal digits, like 6C63FF; got “zzz”."),
    ({"show_brand": "yes"}, "show_brand must be one of: 0, 1; got “yes”."),
    ({"type": "event", "target_date": "tomorrow"},
     "target_date must be an ISO 8601 date and time with an offset, like 2026-05-10T14:30:00Z;"
     " got “tomorrow”."),
    ({"type": "event", "target_date": "2026-05-10T14:30:00"},
     "target_date must be an ISO 8601 date and time with an offset, like 2026-05-10T14:30:00Z;"
     " got “2026-05-10T14:30:00”."),
    ({"type": "event"}, "target_date is required for event timers."),
    ({"timezone": "Mars/Olympus"},
     "timezone must be an IANA time zone, like Europe/Paris; got “Mars/Olympus”."),
    ({"title": "x" * 201}, "title must be at most 200 characters long."),
    ({"timer": "abc"}, "timer must be a timer id like tmr_…; got “abc”."),
    ({"rundown": "tmr_abc"}, "rundown must be a rundown id like rnd_…; got “tmr_abc”."),
    ({"rundown": "rnd_abc", "timer": "tmr_abc"},
     "Give timer or rundown, not both: a widget follows one timer or one rundown."),
])
def test_each_bad_value_names_the_parameter_and_what_is_allowed(query: dict[str, str],
                                                                message: str) -> None:
    problems = widget_params.parse(query).problems
    assert [p.message("en") for p in problems] == [message]


def test_a_long_bad_value_is_cut_in_the_message() -> None:
    (problem,) = widget_params.parse({"theme": "a" * 500}).problems
    assert problem.message("en").endswith("got “" + "a" * 40 + "…”.")


def test_a_live_timer_needs_no_target_date() -> None:
    assert widget_params.parse({"type": "event", "timer": "tmr_x"}).problems == ()
    assert widget_params.parse({"type": "event", "rundown": "rnd_x"}).problems == ()


def test_a_rundown_is_read_beside_the_other_parameters() -> None:
    params = widget_params.parse({"rundown": "rnd_Show1", "theme": "light", "lang": "ja",
                                  "show_title": "0"})
    assert params.problems == ()
    assert (params.rundown, params.timer, params.theme, params.lang, params.show_title) == (
        "rnd_Show1", None, "light", "ja", False)
