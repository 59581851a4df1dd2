"""Languages: the catalogs in `server/catalogs/*.json` (one flat key → text map each, the same
keys in every file) and the choice of a language for a request."""

from __future__ import annotations

import json
from pathlib import Path

CATALOG_DIR = Path(__file__).resolve().parent / "catalogs"
DEFAULT = "en"
#: Each language's name in itself, for language pickers.
AUTONYMS = {"en": "English", "zh": "中文", "ja": "日本語", "es": "Español", "fr": "Français",
            "de": "Deutsch", "ko": "한국어"}
LANGUAGES = tuple(AUTONYMS)

CATALOGS: dict[str, dict[str, str]] = {
    lang: json.loads((CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in LANGUAGES
}


def pick(lang: str | None) -> str:
    """`lang` if Castimer speaks it (by its primary subtag, any case: zh-CN and DE count),
    else English: an unknown language is not an error."""
    primary = (lang or "").split("-")[0].split("_")[0].lower()
    return primary if primary in CATALOGS else DEFAULT


def negotiate(lang: str | None, accept_language: str | None) -> str:
    """An explicit `lang` first, then the browser's Accept-Language preferences, then English."""
    if lang in CATALOGS:
        return lang
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = name.strip().lower().split("-")[0]
        if primary in CATALOGS and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else DEFAULT


def text(lang: str, key: str, **values: object) -> str:
    """The catalog text for `key` in `lang` with `{name}` placeholders filled in."""
    return CATALOGS[lang][key].format(**values)


def subset(lang: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The keys a page's script needs, so a page does not ship the whole catalog."""
    return {k: v for k, v in CATALOGS[lang].items() if k.startswith(prefixes)}
