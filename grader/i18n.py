"""Student-facing texts in the student's language: English, the source texts, or Chinese.

Each message is its English text (with `{name}` placeholders filled by str.format after the
lookup), found in gettext catalogs kept only as .po files and read on first use: the
assignment's own (`<assignment>/locale/`), then the grader's (`grader/locale/`). The language
is a context variable, so every grading thread and service request has its own; English needs
no catalog, so Babel is imported only for another language.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

ENGLISH = "en"
LANGUAGES = (ENGLISH, "zh_CN")
DOMAIN = "grader"
GRADER_CATALOGS = Path(__file__).parent / "locale"
CATALOG_FOLDER = "locale"  # an assignment's catalogs: <assignment>/locale/<lang>/LC_MESSAGES/


@dataclass(frozen=True)
class Translations:
    """One language's messages, the assignment's first: each English text's translation."""

    language: str
    messages: dict[str, str] = field(default_factory=dict)
    plurals: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def gettext(self, message: str) -> str:
        return self.messages.get(message) or message

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        forms = self.plurals.get((singular, plural))
        if not forms:
            return singular if count == 1 else plural
        return forms[min(_plural_form(self.language, count), len(forms) - 1)]


_ACTIVE: ContextVar[Translations | None] = ContextVar("grader_language", default=None)


def _plural_form(language: str, count: int) -> int:
    """Which plural form a count takes: Chinese has one form, English two."""
    return 0 if language.startswith("zh") or count == 1 else 1


def _(message: str) -> str:
    """`message` in the active language (itself in English, or where no translation exists)."""
    active = _ACTIVE.get()
    return message if active is None else active.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of a message that fits `count`, in the active language."""
    active = _ACTIVE.get()
    if active is None:
        return singular if count == 1 else plural
    return active.ngettext(singular, plural, count)


def N_(message: str) -> str:  # noqa: N802 - the name gettext's tools look for
    """Marks a text kept in a constant for extraction; it is translated where it is used."""
    return message


def sentences(*texts: str) -> str:
    """Sentences one after another: a space follows English punctuation, none Chinese."""
    joined = ""
    for text in filter(None, texts):
        wide = joined[-1:] in _FULL_WIDTH_ENDINGS or not joined
        joined += text if wide else f" {text}"
    return joined


_FULL_WIDTH_ENDINGS = frozenset("。！？；：，）」』")


def listing(items: Iterable[str]) -> str:
    """Items one after another, separated as the active language separates a list."""
    return _(", ").join(items)


def current_language() -> str:
    """The active language's code, as --lang names it."""
    active = _ACTIVE.get()
    return ENGLISH if active is None else active.language


def html_language() -> str:
    """The active language as an HTML `lang` attribute (BCP 47: zh-CN)."""
    return current_language().replace("_", "-")


@contextmanager
def language(code: str, assignment_folder: Path | None = None) -> Iterator[None]:
    """Speak `code` inside the block, in this context only (threads started inside with a copy
    of the context, as the batch's are, speak it too)."""
    token = _ACTIVE.set(translations(code, assignment_folder))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def translations(code: str, assignment_folder: Path | None = None) -> Translations | None:
    """The messages of `code` with the assignment's catalog over the grader's; None for English.

    Raises ValueError for a language the grader does not have."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}: choose one of {', '.join(LANGUAGES)}")
    if code == ENGLISH:
        return None
    folder = None if assignment_folder is None else str(Path(assignment_folder).resolve())
    return _translations(code, folder)


@functools.lru_cache(maxsize=32)
def _translations(code: str, assignment_folder: str | None) -> Translations:
    catalogs = [catalog_path(GRADER_CATALOGS, code)]
    if assignment_folder is not None:
        catalogs += sorted((Path(assignment_folder) / CATALOG_FOLDER / code).glob("*/*.po"))
    merged = Translations(code)
    for path in catalogs:  # later catalogs (the assignment's) win
        if path.is_file():
            messages, plurals = read_catalog(path)
            merged.messages.update(messages)
            merged.plurals.update(plurals)
    return merged


def catalog_path(root: Path, code: str) -> Path:
    return root / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path) -> tuple[dict[str, str], dict[tuple[str, str], tuple[str, ...]]]:
    """A .po file's translated messages, fuzzy and empty ones left out (they stay English)."""
    from babel.messages.pofile import read_po

    with path.open("rb") as source:
        catalog = read_po(source)
    messages: dict[str, str] = {}
    plurals: dict[tuple[str, str], tuple[str, ...]] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple):
            forms = tuple(message.string)
            if all(forms):
                plurals[message.id[0], message.id[1]] = forms
        elif message.string:
            messages[message.id] = message.string
    return messages, plurals
