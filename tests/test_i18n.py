"""The catalogs: the same keys and placeholders in every language, and language choice."""

from __future__ import annotations

import json
import re
import string

import pytest

from server import i18n


def test_every_catalog_has_the_same_keys() -> None:
    files = sorted(p.stem for p in i18n.CATALOG_DIR.glob("*.json"))
    assert files == sorted(["en", "zh", "ja", "es", "fr", "de", "ko"])
    english = set(json.loads((i18n.CATALOG_DIR / "en.json").read_text(encoding="utf-8")))
    for lang in files:
        keys = set(json.loads((i18n.CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8")))
        assert keys == english, (lang, sorted(keys ^ english))


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_translations_keep_the_placeholders_and_are_not_empty(lang: str) -> None:
    for key, english in i18n.CATALOGS["en"].items():
        text = i18n.CATALOGS[lang][key]
        assert text.strip(), (lang, key)
        assert _placeholders(text) == _placeholders(english), (lang, key)


def test_other_languages_are_not_copies_of_english() -> None:
    for lang in i18n.LANGUAGES:
        if lang != "en":
            # The product's name stays; the words around it are translated ("Powered by").
            same = [k for k, v in i18n.CATALOGS[lang].items() if v == i18n.CATALOGS["en"][k]
                    and re.search(r"[a-z]{4}", v.replace("Castimer", ""))]
            assert len(same) <= 5, (lang, same)  # "Timer", "Start" are German too
            assert i18n.CATALOGS[lang]["widget.brand"] != i18n.CATALOGS["en"]["widget.brand"]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_plan_names_are_product_names_in_every_language(lang: str) -> None:
    note = i18n.CATALOGS[lang]["embed.brand_note"]
    for plan in ("Pro", "Enterprise"):
        assert re.search(rf"(?<![A-Za-z]){plan}(?![A-Za-z])", note), (lang, note)


@pytest.mark.parametrize(("lang", "accept", "chosen"), [
    ("de", "fr", "de"),
    (None, "fr-CH, fr;q=0.9, en;q=0.8", "fr"),
    (None, "en;q=0.5, ko;q=0.9", "ko"),
    (None, "pt-BR, ja;q=0.1", "ja"),
    (None, "pt-BR", "en"),
    ("xx", None, "en"),
    (None, "zh;q=0", "en"),
    (None, "de;q=abc, es", "es"),
])
def test_negotiate(lang: str | None, accept: str | None, chosen: str) -> None:
    assert i18n.negotiate(lang, accept) == chosen


def test_an_unknown_widget_language_is_english() -> None:
    assert i18n.pick("xx") == "en"
    assert i18n.pick("ko") == "ko"
    assert [i18n.pick(tag) for tag in ("zh-CN", "fr-CA", "DE", "pt-BR", "", None)] == [
        "zh", "fr", "de", "en", "en", "en"]


ROOT = i18n.CATALOG_DIR.parent
#: Keys the pages build from a value (`T[`timer_type.${type}`]`): every value they take.
_BUILT = {"timer_type.": ("countdown", "event", "interval"),
          "dashboard.status_": ("pending", "succeeded", "failed", "cancelled"),
          "widget.": ("idle", "running", "paused", "completed", "work", "rest"),
          "control.": ("live", "connecting", "reconnecting"),
          "control.level_": ("warning", "danger"), "dashboard.level_": ("warning", "danger")}


#: The catalogs' namespaces: any string in a page's source that starts with one and a dot is
#: a key, however it reaches the lookup (`T[a ? "x.y" : "x.z"]`, a variable, another name).
_NAMESPACES = sorted({key.split(".")[0] for key in i18n.CATALOGS["en"]})
_KEY = re.compile(r"""["'`]((?:""" + "|".join(_NAMESPACES) + r""")\.[a-z_]*)(["'`]|\$\{)""")
_JINJA_LOOP = re.compile(r"""\{%\s*for \w+ in \(([^)]*)\)\s*%\}.*?t\["([a-z_]+\.[a-z_]*)" ~""",
                         re.S)
#: File names that look like keys ("widget.js"), not looked up.
_FILES = ("html", "js", "css", "json", "svg", "md", "py")


def _keys_the_pages_use() -> set[str]:
    used: set[str] = set()
    for path in [*ROOT.glob("templates/*.html"), *ROOT.glob("widget/*"), *ROOT.glob("static/*.js"),
                 *ROOT.glob("*.py"), *ROOT.glob("api/*.py")]:
        source = path.read_text(encoding="utf-8")
        # Jinja: {% for key in ("a", "b") %} … t["prefix_" ~ key]: every value of the loop.
        looped = set()
        for values, prefix in _JINJA_LOOP.findall(source):
            used |= {prefix + value for value in re.findall(r'"([a-z_]+)"', values)}
            looped.add(prefix)
        for key, end in _KEY.findall(source):
            if key in looped:
                continue
            if end == "${":  # built from a value: every value it takes
                used |= {key + value for value in _BUILT[key]}
            elif key.split(".")[1] not in ("", *_FILES):  # "dashboard.": a prefix of subset()
                used.add(key)
    return used


#: Keys whose text is the same word in English and in that language.
_SAME_WORD = {"de": {"widget.label", "embed.code", "embed.frame_title", "control.start",
                     "timer_type.countdown", "home.version"},
              "fr": {"embed.type", "embed.code", "control.pause", "control.minutes",
                     "home.docs", "home.version", "control.preset_five_minutes",
                     "control.preset_one_minute"},
              "es": {"control.minutes", "dashboard.plan"}}


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_each_catalog_translates_every_key_the_pages_use(lang: str) -> None:
    used = _keys_the_pages_use()
    assert {"home.intro", "embed.last_valid", "dashboard.created_timer", "widget.brand",
            "timer_type.interval", "error.color", "control.live",
            # looked up through ternaries and other names than T
            "dashboard.less", "dashboard.key_active", "dashboard.key_current",
            "control.bad_token", "control.not_found", "widget.round",
            # built in a Jinja loop
            "control.preset_wrap_up"} <= used
    missing = sorted(k for k in used if not i18n.CATALOGS[lang].get(k, "").strip())
    assert missing == [], (lang, missing)
    if lang != "en":
        # Words (not names, numbers or codes) the page shows must be this language's own.
        untranslated = sorted(
            k for k in used - _SAME_WORD.get(lang, set())
            if i18n.CATALOGS[lang][k] == i18n.CATALOGS["en"][k]
            and re.search(r"[A-Za-z]{3}", i18n.CATALOGS[lang][k].replace("Castimer", "")))
        assert untranslated == [], (lang, untranslated)
