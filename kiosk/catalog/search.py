"""Catalog search: accent- and case-insensitive, typo-tolerant, with synonyms, ranked by relevance
then popularity.

The index is built in memory from the store once per catalog revision (10,000 procedures take a
fraction of a second) and then answers in about a millisecond:

- text is folded (NFKD, accents and case dropped, punctuation to spaces) and lightly stemmed
  ("pagar" and "pago" meet) before indexing and querying;
- synonyms are groups of words or phrases ("luz" = "alumbrado"; "impuesto predial" = "predial");
  a document containing any member gets the group's token, and a query phrase that is a member
  is replaced by that token, so multi-word synonyms cost nothing at query time;
- a query word of 4+ letters also matches words one edit away (insertion, deletion, substitution
  or swap of neighbours), found through a deletion-neighbourhood table instead of comparing with
  every word; the last word also matches as a prefix, for search-as-you-type;
- relevance is the sum over query words of (field weight x match quality); equal relevance is
  ordered by the procedure's popularity weight.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

STOPWORDS = frozenset(
    ["a", "al", "con", "de", "del", "el", "en", "la", "las", "lo", "los", "mi", "mis", "para", "por", "que",
     "se", "su", "sus", "un", "una", "unos", "unas", "y", "o", "e", "tramite", "tramites"]
)
# Groups of equivalent words or phrases, written folded (no accents, lower case).
SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("luz", "alumbrado", "lampara", "luminaria", "poste"),
    ("predial", "impuesto predial", "contribucion predial", "impuesto a la propiedad"),
    ("agua", "agua potable", "sapasa"),
    ("multa", "infraccion", "boleta de transito", "fotomulta"),
    ("acta", "partida", "certificado del registro civil"),
    ("boda", "matrimonio", "casarse", "casamiento"),
    ("basura", "limpia", "recoleccion", "desechos"),
    ("negocio", "comercio", "licencia de funcionamiento", "establecimiento"),
    ("tumba", "fosa", "sepultura", "panteon", "cementerio"),
    ("carro", "auto", "coche", "vehiculo", "automovil"),
    ("bache", "hoyo", "pavimento"),
    ("permiso de construccion", "licencia de construccion"),
    ("adulto mayor", "tercera edad", "inapam", "jubilado", "pensionado"),
    ("perro", "mascota", "gato"),
    ("drenaje", "alcantarillado", "aguas negras"),
)

NAME_WEIGHT, KEYWORD_WEIGHT, CATEGORY_WEIGHT, SUMMARY_WEIGHT = 3.0, 2.0, 1.5, 1.0
EXACT, PREFIX, FUZZY = 1.0, 0.8, 0.7
LITERAL_BONUS = 0.1
_NON_WORD = re.compile(r"[^a-z0-9]+")


def fold(text: str) -> str:
    """'Constancia de NO ADEUDO, Año' -> 'constancia de no adeudo ano'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NON_WORD.sub(" ", stripped).strip()


def stem(word: str) -> str:
    """A deliberately light Spanish stemmer: plurals, a final vowel, infinitives.

    'pago', 'pagos', 'pagar' -> 'pag'; 'multas' -> 'mult'; 'licencias' -> 'licenci'. Short words stay
    whole so 'luz' or 'dif' are not mangled. Documents and queries go through the same function."""
    if len(word) > 4 and word.endswith("es") and word[-3] not in "aeiou":
        word = word[:-2]
    elif len(word) > 4 and word.endswith("s"):
        word = word[:-1]
    if len(word) >= 5 and word[-2:] in ("ar", "er", "ir"):
        return word[:-2]
    if len(word) >= 4 and word[-1] in "aeo":
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return [stem(word) for word in fold(text).split() if word not in STOPWORDS]


def _group_token(index: int) -> str:
    return f"~syn{index}"


_PHRASES = sorted(
    ((tuple(tokens(member)), _group_token(index)) for index, group in enumerate(SYNONYMS) for member in group),
    key=lambda item: -len(item[0]),
)


def with_synonyms(words: list[str], replaced: list[str] | None = None) -> list[str]:
    """Replace every synonym phrase in `words` with its group token, longest phrase first.

    The words that were replaced are appended to `replaced` when given (the query uses them for a
    small bonus, so the literal wording wins ties between synonyms)."""
    out: list[str] = []
    position = 0
    while position < len(words):
        for phrase, group in _PHRASES:
            if phrase and tuple(words[position:position + len(phrase)]) == phrase:
                out.append(group)
                if replaced is not None:
                    replaced.extend(phrase)
                position += len(phrase)
                break
        else:
            out.append(words[position])
            position += 1
    return out


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """Damerau distance <= 1 (one insertion, deletion, substitution or adjacent swap)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and \
            a[diffs[1]] == b[diffs[0]]
    shorter, longer = (a, b) if la < lb else (b, a)
    return any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


@dataclass(frozen=True)
class SearchHit:
    id: str
    name: str
    score: float
    popularity: int
    categories: tuple[str, ...]


class SearchIndex:
    def __init__(self, records: Iterable[Mapping[str, Any]], category_names: Mapping[str, str] | None = None,
                 lang: str = "es"):
        self.lang = lang
        self._docs: list[tuple[str, str, int, tuple[str, ...]]] = []
        self._postings: dict[str, dict[int, float]] = {}
        names = category_names or {}
        for record in records:
            if record.get("status", "active") != "active":
                continue  # suspended and withdrawn procedures are not offered to citizens
            self._add(record, names)
        self._vocabulary = sorted(word for word in self._postings if not word.startswith("~"))
        self._deletion_index: dict[str, set[str]] = {}
        for word in self._vocabulary:
            if len(word) >= 4:
                for variant in _deletions(word) | {word}:
                    self._deletion_index.setdefault(variant, set()).add(word)

    def __len__(self) -> int:
        return len(self._docs)

    def _add(self, record: Mapping[str, Any], category_names: Mapping[str, str]) -> None:
        doc = len(self._docs)
        name = _text(record.get("name"), self.lang)
        categories = tuple(record.get("categories") or ())
        self._docs.append((record["id"], name, int(record.get("popularity", 0)), categories))
        fields = [
            (name + " " + _text(record.get("citizen_name"), self.lang), NAME_WEIGHT),
            (" ".join((record.get("keywords") or {}).get(self.lang, ())), KEYWORD_WEIGHT),
            (" ".join(category_names.get(cat, cat.replace("_", " ")) for cat in categories), CATEGORY_WEIGHT),
            (_text(record.get("summary"), self.lang), SUMMARY_WEIGHT),
        ]
        for text, weight in fields:
            words = tokens(text)
            for word in {*words, *with_synonyms(words)}:
                postings = self._postings.setdefault(word, {})
                if postings.get(doc, 0.0) < weight:
                    postings[doc] = weight

    def _candidates(self, word: str, last: bool) -> dict[str, float]:
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = EXACT
        if word.startswith("~"):
            return found
        if last and len(word) >= 3:
            start = bisect.bisect_left(self._vocabulary, word)
            for candidate in self._vocabulary[start:start + 200]:
                if not candidate.startswith(word):
                    break
                found.setdefault(candidate, PREFIX)
        if len(word) >= 4:
            for variant in _deletions(word) | {word}:
                for candidate in self._deletion_index.get(variant, ()):
                    if candidate not in found and within_one_edit(word, candidate):
                        found[candidate] = FUZZY
        return found

    def search(self, query: str, limit: int = 10) -> list[SearchHit]:
        literal: list[str] = []
        words = with_synonyms(tokens(query), literal)
        if not words or limit <= 0:
            return []
        scores: dict[int, float] = {}
        matched: dict[int, int] = {}
        for word in literal:
            for doc, weight in self._postings.get(word, {}).items():
                scores[doc] = scores.get(doc, 0.0) + LITERAL_BONUS * weight
        for position, word in enumerate(words):
            best: dict[int, float] = {}
            for candidate, quality in self._candidates(word, position == len(words) - 1).items():
                for doc, weight in self._postings[candidate].items():
                    value = weight * quality
                    if value > best.get(doc, 0.0):
                        best[doc] = value
            for doc, value in best.items():
                scores[doc] = scores.get(doc, 0.0) + value
                matched[doc] = matched.get(doc, 0) + 1
        scores = {doc: value for doc, value in scores.items() if doc in matched}
        # Documents that match every query word come first; then relevance; then popularity.
        ranked = sorted(scores, key=lambda doc: (-matched[doc], -round(scores[doc], 3), -self._docs[doc][2],
                                                 self._docs[doc][1]))
        hits = []
        for doc in ranked[:limit]:
            record_id, name, popularity, categories = self._docs[doc]
            hits.append(SearchHit(record_id, name, round(scores[doc], 3), popularity, categories))
        return hits


def _text(value: Mapping[str, str] | None, lang: str) -> str:
    if not value:
        return ""
    return value.get(lang) or next(iter(value.values()))
