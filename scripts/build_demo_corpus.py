#!/usr/bin/env python3
"""One-off builder of the small *real* demo corpora under ``data/demo/``.

This script is NOT part of the evotrans runtime: nothing in the package or the
tests imports it.  It was run once to produce the committed text files, and it
can be re-run to reproduce them byte for byte (given the same inputs).

``data/demo/lm/`` -- English language-modelling corpus in the WikiText layout
    (``wiki.{train,valid,test}.tokens``), made from the trimmed English
    Wikipedia dump that the gensim wheel ships as test data.  MediaWiki markup
    is stripped with mwparserfromhell and the text is tokenised with
    sacremoses' Moses tokenizer plus WikiText's ``@-@`` / ``@,@`` / ``@.@``
    conventions.

``data/demo/mt/`` -- German-English parallel corpus made of the human
    translations in the gettext catalogues ``/usr/share/locale/de/LC_MESSAGES``
    of the machine the script runs on (files ``{train,valid,test}.{de,en}``,
    ``sources.tsv`` and ``catalogues.tsv``).

Build-time requirements (install them in a throw-away virtualenv, never in the
project's .venv)::

    python3 -m venv /tmp/corpusenv
    /tmp/corpusenv/bin/pip install mwparserfromhell==0.7.2 sacremoses==0.2.0
    /tmp/corpusenv/bin/pip download --no-deps gensim==4.4.0 -d /tmp/gensim \\
        --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64
    /tmp/corpusenv/bin/python scripts/build_demo_corpus.py \\
        --gensim-wheel /tmp/gensim/gensim-4.4.0-cp311-*.whl

The MT part additionally uses ``dpkg`` / ``dpkg-query`` (Debian/Ubuntu) to name
the package each catalogue comes from and ``/usr/share/doc/<pkg>/copyright``
for its licence.
"""

from __future__ import annotations

import argparse
import bz2
import gettext
import hashlib
import io
import re
import struct
import subprocess
import sys
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DUMP_MEMBER = (
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)

# --------------------------------------------------------------------------------------------
# English Wikipedia -> WikiText layout
# --------------------------------------------------------------------------------------------

# Sections whose content is lists of citations/links rather than prose (dropped with their
# subsections, as in WikiText).
SKIP_SECTIONS = {
    "references",
    "external links",
    "see also",
    "further reading",
    "notes",
    "bibliography",
    "sources",
    "footnotes",
    "citations",
    "notes and references",
    "references and notes",
    "gallery",
    "works cited",
    "literature",
    "works",
    "selected works",
    "filmography",
    "discography",
    "publications",
    "selected publications",
    "bibliography and further reading",
    "primary sources",
    "secondary sources",
    "list of winners",
    "winners and nominees",
}
# Tags whose content is not running prose.
DROP_TAGS = {
    "ref",
    "references",
    "table",
    "gallery",
    "math",
    "chem",
    "timeline",
    "imagemap",
    "score",
    "syntaxhighlight",
    "source",
    "pre",
    "code",
    "poem",
    "blockquote",
    "div",
    "center",
    "hiero",
    "graph",
    "mapframe",
}
LINK_NAMESPACES = ("file:", "image:", "category:", "media:")
_INTERLANG = re.compile(r"^[a-z]{2,3}(-[a-z]+)?:")
MIN_PARAGRAPH_WORDS = 6
MIN_ARTICLE_TOKENS = 400


def read_dump(wheel: Path) -> list[tuple[str, str]]:
    """(title, wikitext) of the main-namespace, non-redirect pages of the gensim test dump."""
    with zipfile.ZipFile(wheel) as zf:
        xml = bz2.decompress(zf.read(DUMP_MEMBER))
    pages = []
    for _, elem in ET.iterparse(io.BytesIO(xml)):
        if not elem.tag.endswith("}page"):
            continue
        ns = elem.tag[: -len("page")]
        title = elem.findtext(f"{ns}title") or ""
        text = elem.findtext(f"{ns}revision/{ns}text") or ""
        if (
            elem.findtext(f"{ns}ns") == "0"
            and elem.find(f"{ns}redirect") is None
            and not text.lstrip().upper().startswith("#REDIRECT")
        ):
            pages.append((title, text))
        elem.clear()
    return pages


def _remove(code, node) -> None:
    try:
        code.remove(node)
    except ValueError:  # already gone with an enclosing node
        pass


_TEXT_TEMPLATES = {"nowrap", "nobr", "small", "smaller", "big", "sc", "smallcaps", "mvar", "em"}
_RANGE_WORDS = {"to", "-", "–", "and", "or", "by", "x", "&"}


def render_template(template) -> str | None:
    """Text of the few inline templates that stand for words or numbers; None for the rest."""
    name = str(template.name).strip().lower().replace("_", " ")
    args = [str(p.value).strip() for p in template.params if not p.showkey]
    if name in ("convert", "cvt") and len(args) >= 2:  # {{convert|5|to|10|km|mi}} -> 5 to 10 km
        if len(args) >= 4 and args[1] in _RANGE_WORDS:
            return f"{args[0]} {args[1]} {args[2]} {args[3]}"
        return f"{args[0]} {args[1]}"
    if name == "lang" and len(args) >= 2:
        return args[1]
    if name.startswith("lang-") and args:
        return args[0]
    if name in ("transl", "transliteration") and args:
        return args[-1]
    if name in _TEXT_TEMPLATES and args:
        return args[0]
    return None


def strip_markup(wikitext: str) -> str:
    """Wikitext of one section body -> plain text, paragraphs separated by blank lines."""
    import mwparserfromhell

    code = mwparserfromhell.parse(wikitext)
    for node in code.filter_comments():
        _remove(code, node)
    for _ in range(5):  # inline templates that stand for text are rendered, others dropped
        templates = code.filter_templates(recursive=False)
        if not templates:
            break
        for node in templates:
            text = render_template(node)
            if text is None:
                _remove(code, node)
            else:
                code.replace(node, text)
    for node in code.filter_tags():
        if str(node.tag).strip().lower() in DROP_TAGS:
            _remove(code, node)
    for node in code.filter_wikilinks():
        target = str(node.title).strip().lower().lstrip(":")
        if target.startswith(LINK_NAMESPACES) or _INTERLANG.match(target):
            _remove(code, node)
    for node in code.filter_templates():  # templates nested in kept nodes
        _remove(code, node)

    # Wikitext paragraphs: runs of lines separated by blank lines; list items, table rows,
    # indented and directive lines are not prose.
    paragraphs: list[list[str]] = [[]]
    for line in str(code).splitlines():
        stripped = line.strip()
        if not stripped:
            paragraphs.append([])
        elif stripped[0] in "*#;:|!{}" or line.startswith(" ") or stripped.startswith("__"):
            paragraphs.append([])
        else:
            paragraphs[-1].append(stripped)
    out = []
    for lines in paragraphs:
        if not lines:
            continue
        text = mwparserfromhell.parse(" ".join(lines)).strip_code(normalize=True, collapse=True)
        text = unicodedata.normalize("NFC", text).replace("\xa0", " ")
        text = re.sub(r"''+", "", text)  # empty italics/bold around removed parts
        text = re.sub(r"\(\s*[,;:]?\s*\)", "", text)  # "( )" left by removed templates
        text = re.sub(r"\(\s*[,;:]\s*", "(", text)  # "( ; born ..." after a removed IPA template
        text = re.sub(r"\s+([,.;:])", r"\1", text)
        text = re.sub(r"\s+", " ", text).strip()
        if (
            "thumb|" in text.replace(" ", "")
            or "http" in text
            or "www." in text
            or "[[" in text
            or "{{" in text
            or "}}" in text
        ):
            continue
        if len(text.split()) < MIN_PARAGRAPH_WORDS or not re.search(r"[a-z]", text):
            continue
        out.append(text)
    return "\n\n".join(out)


class WikiTextTokenizer:
    """Moses tokenisation with WikiText's ``@-@``, ``@,@`` and ``@.@`` conventions."""

    def __init__(self) -> None:
        from sacremoses import MosesTokenizer

        self._moses = MosesTokenizer(lang="en")

    def __call__(self, text: str) -> str:
        tok = self._moses.tokenize(text, aggressive_dash_splits=True, escape=False, return_str=True)
        tok = re.sub(r"(?<=\d),(?=\d)", " @,@ ", tok)
        tok = re.sub(r"(?<=\d)\.(?=\d)", " @.@ ", tok)
        return re.sub(r"\s+", " ", tok).strip()


@dataclass
class Article:
    title: str
    lines: list[str] = field(default_factory=list)  # WikiText lines, without newline

    @property
    def tokens(self) -> int:
        return sum(len(line.split()) for line in self.lines)


def convert_article(title: str, wikitext: str, tokenize: WikiTextTokenizer) -> Article:
    import mwparserfromhell

    sections: list[tuple[int, str, list[str]]] = []  # (level, heading, paragraphs)
    skip_below: int | None = None
    for section in mwparserfromhell.parse(wikitext).get_sections(flat=True, include_lead=True):
        headings = section.filter_headings(recursive=False)
        if headings and str(section).lstrip().startswith("="):
            heading = headings[0]
            level = heading.level
            name = heading.title.strip_code().strip()
            body = str(section)[len(str(heading)) :]
        else:
            level, name, body = 1, title, str(section)
        if skip_below is not None and level > skip_below:
            continue
        skip_below = None
        if name.lower().strip(" :") in SKIP_SECTIONS:
            skip_below = level
            continue
        text = strip_markup(body)
        paragraphs = [tokenize(p) for p in text.split("\n\n") if p]
        sections.append((level, tokenize(name), paragraphs))

    # Keep a heading only if it, or one of its subsections, has prose.
    keep = [False] * len(sections)
    for i in range(len(sections) - 1, -1, -1):
        level, _, paragraphs = sections[i]
        keep[i] = bool(paragraphs)
        j = i + 1
        while not keep[i] and j < len(sections) and sections[j][0] > level:
            keep[i] = keep[j]
            j += 1
    article = Article(title)
    for (level, name, paragraphs), kept in zip(sections, keep, strict=True):
        if not kept and level > 1:
            continue
        marks = " ".join(["="] * level)
        article.lines += ["", f"{marks} {name} {marks}", ""]
        article.lines += paragraphs
    return article


def split_of_article(index: int) -> str:
    """Fixed rule on the position among the kept articles: 1 in 12 valid, 1 in 12 test."""
    return {4: "valid", 5: "test"}.get(index % 12, "train")


def build_lm(wheel: Path, out: Path) -> dict[str, dict[str, int]]:
    tokenize = WikiTextTokenizer()
    articles = []
    for title, text in read_dump(wheel):
        if "(disambiguation)" in title or title.startswith("List of "):
            continue
        article = convert_article(title, text, tokenize)
        if article.tokens >= MIN_ARTICLE_TOKENS:
            articles.append(article)
    out.mkdir(parents=True, exist_ok=True)
    stats = {}
    for split in ("train", "valid", "test"):
        chosen = [a for i, a in enumerate(articles) if split_of_article(i) == split]
        lines = [line for a in chosen for line in a.lines] + [""]
        path = out / f"wiki.{split}.tokens"
        # WikiText writes every line with a leading and a trailing space (" " for blank lines).
        path.write_text("".join(f" {line} \n" if line else " \n" for line in lines), "utf-8")
        stats[split] = {
            "articles": len(chosen),
            "lines": len(lines),
            "tokens": sum(a.tokens for a in chosen),
            "bytes": path.stat().st_size,
        }
        print(f"lm {split}: {stats[split]}  ({', '.join(a.title for a in chosen[:8])}, ...)")
    return stats


# --------------------------------------------------------------------------------------------
# gettext catalogues -> German-English pairs
# --------------------------------------------------------------------------------------------

_FORMAT = re.compile(
    r"%(\(\w+\))?[-+ #0'I]*(\d+\$)?(\*|\d+)?(\.(\*|\d+))?(hh|h|ll|l|L|q|j|z|t|I64|I32)?"
    r"[diouxXeEfFgGaAcspnmSC%<]"  # printf, including %<PRIu64> and %m
    r"|%\d|%[A-Za-z]"  # Qt %1, strftime-like %Y
    r"|[{}]|\$\{?\w|@\w+@|\\[a-z]"  # {0}, ${VAR}, $1, @FILE@, \n
)
_MARKUP = re.compile(r"<[/a-zA-Z!?][^>]*>|&[#\w]+;|https?:|ftp:|www\.|\w@\w|://|\.html?\b")
_MARKED_WORD = re.compile(r"\S*[_&]\S*")


@dataclass
class Pair:
    de: str
    en: str
    catalogue: str


def read_catalogue(path: Path) -> dict:
    """msgid -> msgstr of a compiled .mo file (plural entries keyed by tuples)."""
    with path.open("rb") as fh:
        try:
            return gettext.GNUTranslations(fh)._catalog
        except UnicodeDecodeError:
            pass  # header not UTF-8 although the charset says otherwise: parse by hand
    data = path.read_bytes()
    order = "<" if struct.unpack("<I", data[:4])[0] == 0x950412DE else ">"
    _, count, ids_at, strs_at = struct.unpack(order + "4I", data[4:20])
    raw = []
    for i in range(count):
        id_len, id_off = struct.unpack(order + "2I", data[ids_at + 8 * i : ids_at + 8 * i + 8])
        s_len, s_off = struct.unpack(order + "2I", data[strs_at + 8 * i : strs_at + 8 * i + 8])
        raw.append((data[id_off : id_off + id_len], data[s_off : s_off + s_len]))
    charset = "utf-8"
    for msgid, msgstr in raw:
        if msgid == b"":
            match = re.search(rb"charset=([-\w]+)", msgstr)
            if match:
                charset = match.group(1).decode("ascii")
    catalog = {}
    for msgid, msgstr in raw:
        if b"\x00" in msgid:  # plural
            continue
        catalog[msgid.decode(charset, "replace")] = msgstr.decode(charset, "replace")
    return catalog


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip()


def strip_accelerators(en: str, de: str) -> tuple[str, str] | None:
    """Remove the mnemonic markers (``_Open``, ``&Open``, ``Ö_ffnen``) of both sides.

    Words with ``_`` or ``&`` that occur identically on both sides are identifiers
    (``LC_ALL``, ``R&D``) and stay; otherwise each side may hold at most one marker.
    """
    shared = set(_MARKED_WORD.findall(en)) & set(_MARKED_WORD.findall(de))
    out = []
    for text in (en, de):
        words = text.split(" ")
        marked = [i for i, w in enumerate(words) if w not in shared and re.search(r"[_&]\w", w)]
        if len(marked) > 1:
            return None
        for i in marked:
            if words[i].count("_") + words[i].count("&") > 1:
                return None
            words[i] = re.sub(r"[_&](?=\w)", "", words[i])
        text = " ".join(words)
        if re.search(r"[_&]", " ".join(w for w in text.split() if w not in shared)):
            return None
        out.append(text)
    return out[0], out[1]


def clean_pair(msgid: str, msgstr: str) -> tuple[str, str] | None:
    """The (en, de) sentence pair of one catalogue entry, or None if it is not usable."""
    if "\x04" in msgid:  # msgctxt\x04msgid
        msgid = msgid.split("\x04", 1)[1]
    if not msgid.strip() or not msgstr.strip():
        return None
    for text in (msgid, msgstr):
        if _FORMAT.search(text) or _MARKUP.search(text) or "\t" in text:
            return None
        if text.count("\n") > 3 or re.search(r"\n\s*-", text) or "  " in text.strip(" \n"):
            return None  # help screens, option tables, aligned columns
    if "&&" in msgid + msgstr:
        return None
    stripped = strip_accelerators(_one_line(msgid), _one_line(msgstr))
    if stripped is None:
        return None
    en, de = stripped
    if en == de:
        return None
    if len(en.split()) < 3 or len(en.split()) > 80:
        return None
    if not re.search(r"[A-Za-z]{2}", en) or not re.search(r"[A-Za-zÄÖÜäöüß]{2}", de):
        return None
    ratio = len(de) / len(en)
    if not 0.4 <= ratio <= 3.0:
        return None
    return en, de


def catalogue_package(mo: Path) -> tuple[str, str]:
    """(Debian package, version) that installed a .mo file, or ("?", "?")."""
    try:
        owner = subprocess.run(["dpkg", "-S", str(mo)], capture_output=True, text=True)
        package = owner.stdout.split(":", 1)[0].strip() if owner.returncode == 0 else ""
        if not package:
            return "?", "?"
        query = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
        )
        return package, query.stdout.strip() or "?"
    except FileNotFoundError:
        return "?", "?"


# Licences of the packages whose copyright file is not machine-readable (DEP-5), read by hand
# from /usr/share/doc/<package>/copyright on the build machine (Debian 12), and one whose
# DEP-5 "Files: *" stanza does not cover the program.
LICENCE_OVERRIDES = {
    "binutils-common": "GPL-3+",
    "findutils": "GPL-3+",  # its "Files: *" stanza names the manual's GFDL
    "gettext": "GPL-3+",
    "gettext-base": "GPL-3+ (libraries LGPL-2.1+)",
    "krb5-locales": "MIT (BSD-style, MIT Kerberos)",
    "libavahi-common-data": "LGPL-2.1+",
    "libc-l10n": "LGPL-2.1+",
    "libgnutls30": "LGPL-2.1+ (tools GPL-3+)",
    "libgstreamer1.0-0": "LGPL-2+",
    "libgtk2.0-common": "LGPL-2+",
    "shared-mime-info": "GPL-2+",
    "wget": "GPL-3+",
    "xkb-data": "MIT/X11-style (various authors)",
}


def package_licence(package: str) -> str:
    if package in LICENCE_OVERRIDES:
        return LICENCE_OVERRIDES[package]
    path = Path("/usr/share/doc") / package / "copyright"
    if not path.exists():
        return "?"
    text = path.read_text("utf-8", "replace")
    if text.startswith("Format:"):
        # DEP-5: the licence of the first "Files: *" paragraph.
        for stanza in re.split(r"\n\s*\n", text):
            if re.search(r"^Files:\s*\*\s*$", stanza, re.M):
                match = re.search(r"^License:\s*(\S.*)$", stanza, re.M)
                if match:
                    return match.group(1).strip()
        match = re.search(r"^License:\s*(\S.*)$", text, re.M)
        if match:
            return match.group(1).strip()
    return "?"


def split_by_hash(pairs: list[Pair], n_valid: int, n_test: int) -> dict[str, list[Pair]]:
    """Deterministic split: the n_valid (then n_test) pairs with the smallest sha256(English)."""
    ranked = sorted(range(len(pairs)), key=lambda i: hashlib.sha256(pairs[i].en.encode()).digest())
    which = {}
    for rank, i in enumerate(ranked):
        which[i] = "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
    return {
        s: [p for i, p in enumerate(pairs) if which[i] == s] for s in ("train", "valid", "test")
    }


def build_mt(locale_dir: Path, out: Path, n_valid: int, n_test: int) -> dict[str, dict[str, int]]:
    pairs: list[Pair] = []
    seen: set[str] = set()
    per_catalogue: Counter[str] = Counter()
    for mo in sorted(locale_dir.glob("*.mo")):
        domain = mo.stem
        catalog = read_catalogue(mo)
        for msgid in sorted(k for k in catalog if isinstance(k, str)):
            cleaned = clean_pair(msgid, catalog[msgid])
            if cleaned is None or cleaned[0] in seen:
                continue
            seen.add(cleaned[0])
            pairs.append(Pair(de=cleaned[1], en=cleaned[0], catalogue=domain))
            per_catalogue[domain] += 1
    splits = split_by_hash(pairs, n_valid, n_test)
    out.mkdir(parents=True, exist_ok=True)
    stats = {}
    sources = ["split\tline\tcatalogue"]
    for split, chosen in splits.items():
        for lang in ("en", "de"):
            text = "".join(getattr(p, lang) + "\n" for p in chosen)
            (out / f"{split}.{lang}").write_text(text, "utf-8")
        sources += [f"{split}\t{n}\t{p.catalogue}" for n, p in enumerate(chosen, start=1)]
        stats[split] = {
            "lines": len(chosen),
            "tokens_en": sum(len(p.en.split()) for p in chosen),
            "tokens_de": sum(len(p.de.split()) for p in chosen),
        }
        print(f"mt {split}: {stats[split]}")
    (out / "sources.tsv").write_text("\n".join(sources) + "\n", "utf-8")

    rows = ["catalogue\tpairs\tpackage\tversion\tlicence"]
    for domain in sorted(per_catalogue):
        package, version = catalogue_package(locale_dir / f"{domain}.mo")
        rows.append(
            f"{domain}\t{per_catalogue[domain]}\t{package}\t{version}\t{package_licence(package)}"
        )
    (out / "catalogues.tsv").write_text("\n".join(rows) + "\n", "utf-8")
    print(f"mt: {len(pairs)} pairs from {len(per_catalogue)} catalogues")
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gensim-wheel", type=Path, help="gensim-4.4.0 wheel (for the LM corpus)")
    parser.add_argument("--locale-dir", type=Path, default=Path("/usr/share/locale/de/LC_MESSAGES"))
    parser.add_argument("--out", type=Path, default=REPO / "data" / "demo")
    parser.add_argument("--only", choices=["lm", "mt"], help="build one corpus only")
    parser.add_argument("--mt-valid", type=int, default=1000)
    parser.add_argument("--mt-test", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.only != "mt":
        if args.gensim_wheel is None:
            parser.error("--gensim-wheel is needed for the LM corpus (or pass --only mt)")
        build_lm(args.gensim_wheel, args.out / "lm")
    if args.only != "lm":
        build_mt(args.locale_dir, args.out / "mt", args.mt_valid, args.mt_test)
    return 0


if __name__ == "__main__":
    sys.exit(main())
