"""Raw text corpora -> sentencepiece pieces -> fairseq binaries.

Two entry points:

* :func:`prepare_lm` -- a WikiText-style directory (``wiki.{train,valid,test}.tokens``) into
  a fairseq ``language_modeling`` data directory (``dict.txt``, ``{split}.bin/.idx``).
* :func:`prepare_mt` -- a parallel directory (``{train,valid,test}.{src,tgt}``) into a fairseq
  ``translation`` data directory (``dict.{src,tgt}.txt``, ``{split}.{src}-{tgt}.{lang}.bin/.idx``).

Both train a sentencepiece model on the training split (kept as ``spm.model`` in the output
directory, for ``fairseq-generate --post-process sentencepiece`` and for detokenising), encode
every split to pieces and run ``fairseq-preprocess`` on them. :func:`prepare_lm` can also keep
the corpus's own words (``tokenizer="word"``: no sentencepiece, the vocabulary is every word of
the training split), as fairseq's WikiText-103 language-modelling example does.

The work is idempotent and atomic: it is done in a temporary sibling directory that is renamed
into place at the end, together with a ``prepared.json`` marker recording the size and sha256 of
every input and the parameters.  When the marker of an existing output matches, nothing is done.

This module imports neither torch nor fairseq: fairseq runs as a subprocess.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from evotrans.errors import EvotransError
from evotrans.fairseq_tools import tool

SPLITS = ("train", "valid", "test")
MARKER = "prepared.json"
FORMAT = 1  # bump when the layout of the output changes
MODEL_TYPES = ("bpe", "unigram")
LM_TOKENIZERS = ("spm", "word")

Log = Callable[[str], None]


def prepare_lm(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    vocab_size: int = 8000,
    model_type: str = "bpe",
    character_coverage: float = 0.9995,
    input_sentence_size: int = 1_000_000,
    seed: int = 1,
    workers: int = 2,
    tokenizer: str = "spm",
    force: bool = False,
    log: Log | None = None,
) -> Path:
    """Prepare a WikiText-style corpus for ``fairseq-train --task language_modeling``.

    ``raw_dir`` holds ``wiki.train.tokens``, ``wiki.valid.tokens`` and ``wiki.test.tokens``.
    ``out_dir`` receives ``dict.txt``, ``{train,valid,test}.{bin,idx}``, ``spm.model`` and
    ``prepared.json``.  With ``tokenizer="word"`` the text is binarised as it is (the words
    between spaces; the vocabulary is every word of the training split, the way fairseq's
    WikiText-103 example prepares it), no ``spm.model`` is written and ``vocab_size``,
    ``model_type`` and the other sentencepiece parameters are not used.  Returns ``out_dir``;
    a second call with the same inputs and parameters returns at once (``force=True``
    rebuilds).
    """
    raw, out = _resolve(raw_dir, "raw data directory"), _resolve(out_dir, "output path")
    inputs = {f"wiki.{split}.tokens": raw / f"wiki.{split}.tokens" for split in SPLITS}
    if tokenizer not in LM_TOKENIZERS:
        raise EvotransError(
            f"tokenizer must be one of {', '.join(LM_TOKENIZERS)}, got {tokenizer!r}"
        )
    _check_inputs(raw, inputs.values())
    _check_params(vocab_size, model_type, workers)
    if tokenizer == "word":
        params: dict[str, Any] = {"kind": "lm", "tokenizer": "word"}
    else:  # (no "tokenizer" key: markers written before the option existed stay valid)
        params = {
            "kind": "lm",
            "vocab_size": vocab_size,
            "model_type": model_type,
            "character_coverage": character_coverage,
            "input_sentence_size": input_sentence_size,
            "seed": seed,
        }
    outputs = ["dict.txt"] + [f"{s}.{ext}" for s in SPLITS for ext in ("bin", "idx")]
    if tokenizer == "spm":
        outputs.insert(1, "spm.model")

    def build(tmp: Path, preprocess: str) -> None:
        text = tmp / "text"
        text.mkdir()
        if tokenizer == "word":
            prefixes = {split: inputs[f"wiki.{split}.tokens"] for split in SPLITS}
        else:
            model = _train_spm([inputs["wiki.train.tokens"]], tmp / "spm", params)
            prefixes = {split: text / split for split in SPLITS}
            for split in SPLITS:
                _encode(model, inputs[f"wiki.{split}.tokens"], prefixes[split])
        _run(
            [
                preprocess,
                "--only-source",
                "--task", "language_modeling",
                "--trainpref", str(prefixes["train"]),
                "--validpref", str(prefixes["valid"]),
                "--testpref", str(prefixes["test"]),
                "--destdir", str(tmp),
                "--workers", str(workers),
            ],
            tmp,
        )  # fmt: skip
        shutil.rmtree(text)

    return _prepare(out, inputs, params, outputs, build, force, log)


def prepare_mt(
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    src: str = "de",
    tgt: str = "en",
    vocab_size: int = 8000,
    joint: bool = True,
    model_type: str = "bpe",
    character_coverage: float = 0.9995,
    input_sentence_size: int = 1_000_000,
    seed: int = 1,
    workers: int = 2,
    force: bool = False,
    log: Log | None = None,
) -> Path:
    """Prepare a parallel corpus for ``fairseq-train --task translation``.

    ``raw_dir`` holds ``{train,valid,test}.{src}`` and ``{train,valid,test}.{tgt}`` (one
    sentence a line, parallel).  With ``joint`` (the default) one sentencepiece model
    (``spm.model``) is trained on both sides and fairseq gets ``--joined-dictionary``;
    otherwise each language has its own model (``spm.{lang}.model``) and dictionary.
    ``out_dir`` receives ``dict.{src,tgt}.txt``, ``{split}.{src}-{tgt}.{lang}.{bin,idx}`` and
    ``prepared.json``.  Returns ``out_dir``; a second call with the same inputs and parameters
    returns at once (``force=True`` rebuilds).
    """
    raw, out = _resolve(raw_dir, "raw data directory"), _resolve(out_dir, "output path")
    if not src or not tgt or src == tgt or "." in src + tgt or "/" in src + tgt:
        raise EvotransError(
            f"--src and --tgt must be two different language codes, got {src!r}, {tgt!r}"
        )
    inputs = {f"{split}.{lang}": raw / f"{split}.{lang}" for split in SPLITS for lang in (src, tgt)}
    _check_inputs(raw, inputs.values())
    _check_params(vocab_size, model_type, workers)
    params = {
        "kind": "mt",
        "src": src,
        "tgt": tgt,
        "joint": joint,
        "vocab_size": vocab_size,
        "model_type": model_type,
        "character_coverage": character_coverage,
        "input_sentence_size": input_sentence_size,
        "seed": seed,
    }
    pair = f"{src}-{tgt}"
    outputs = [f"dict.{src}.txt", f"dict.{tgt}.txt"]
    outputs += ["spm.model"] if joint else [f"spm.{src}.model", f"spm.{tgt}.model"]
    outputs += [
        f"{s}.{pair}.{lang}.{ext}" for s in SPLITS for lang in (src, tgt) for ext in ("bin", "idx")
    ]

    def build(tmp: Path, preprocess: str) -> None:
        text = tmp / "text"
        text.mkdir()
        if joint:
            model = _train_spm(
                [inputs[f"train.{src}"], inputs[f"train.{tgt}"]], tmp / "spm", params
            )
            models = {src: model, tgt: model}
        else:
            models = {
                lang: _train_spm([inputs[f"train.{lang}"]], tmp / f"spm.{lang}", params)
                for lang in (src, tgt)
            }
        for split in SPLITS:
            lengths = {}
            for lang in (src, tgt):
                lengths[lang] = _encode(
                    models[lang], inputs[f"{split}.{lang}"], text / f"{split}.{lang}"
                )
            if lengths[src] != lengths[tgt]:
                raise EvotransError(
                    f"{split}.{src} has {lengths[src]} lines but {split}.{tgt} has {lengths[tgt]}"
                )
        args = [
            preprocess,
            "--source-lang", src,
            "--target-lang", tgt,
            "--trainpref", str(text / "train"),
            "--validpref", str(text / "valid"),
            "--testpref", str(text / "test"),
            "--destdir", str(tmp),
            "--workers", str(workers),
        ]  # fmt: skip
        if joint:
            args.append("--joined-dictionary")
        _run(args, tmp)
        shutil.rmtree(text)

    return _prepare(out, inputs, params, outputs, build, force, log)


# ----------------------------------------------------------------------------------------------


def _resolve(path: str | os.PathLike, what: str) -> Path:
    """``path`` made absolute; a name the OS refuses is a one-line error."""
    try:
        return Path(path).resolve()
    except (OSError, ValueError) as err:
        raise EvotransError(f"{what} {str(path)!r} is not a usable path ({err})") from None


def _check_inputs(raw: Path, paths: Iterable[Path]) -> None:
    if not raw.is_dir():
        raise EvotransError(f"raw data directory not found: {raw}")
    for path in paths:
        if not path.is_file():
            raise EvotransError(f"missing input file: {path}")


def _check_params(vocab_size: int, model_type: str, workers: int) -> None:
    if not isinstance(vocab_size, int) or vocab_size < 100:
        raise EvotransError(f"vocab size must be an integer of at least 100, got {vocab_size!r}")
    if model_type not in MODEL_TYPES:
        raise EvotransError(
            f"model type must be one of {', '.join(MODEL_TYPES)}, got {model_type!r}"
        )
    if not isinstance(workers, int) or workers < 1:
        raise EvotransError(f"workers must be a positive integer, got {workers!r}")


def _fingerprint(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def read_marker(out_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The ``prepared.json`` of a prepared directory, or None."""
    try:
        return json.loads((Path(out_dir) / MARKER).read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _prepare(
    out: Path,
    inputs: dict[str, Path],
    params: dict[str, Any],
    outputs: list[str],
    build: Callable[[Path, str], None],
    force: bool,
    log: Log | None,
) -> Path:
    say = log or (lambda message: None)
    expected = {
        "format": FORMAT,
        "params": params,
        "inputs": {name: _fingerprint(path) for name, path in inputs.items()},
    }
    marker = read_marker(out)
    if (
        not force
        and marker is not None
        and {key: marker.get(key) for key in expected} == expected
        and all((out / name).is_file() for name in outputs)
    ):
        say(f"{out} is up to date")
        return out

    if out.exists() and not out.is_dir():
        raise EvotransError(f"output path exists and is not a directory: {out}")
    if out.is_dir() and marker is None and any(out.iterdir()):
        # never replace (and so delete) a directory that evotrans did not write
        raise EvotransError(f"output directory is not empty and has no {MARKER}: {out}")
    preprocess = tool("fairseq-preprocess")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # (not mkdtemp: the final directory gets the umask's permissions)
    started = time.monotonic()
    try:
        say(f"preparing {params['kind']} data in {out} ...")
        build(tmp, preprocess)
        log_file = tmp / "preprocess.log"  # fairseq's, naming the temporary directory
        if log_file.is_file():
            log_file.write_text(log_file.read_text("utf-8").replace(str(tmp), str(out)), "utf-8")
        missing = [name for name in outputs if not (tmp / name).is_file()]
        if missing:
            raise EvotransError(f"fairseq-preprocess did not write {', '.join(missing)}")
        record = dict(expected)
        record["seconds"] = round(time.monotonic() - started, 2)
        record["tools"] = {
            "sentencepiece": _version("sentencepiece"),
            "fairseq": _version("fairseq") or _version("fairseq-fixed"),
        }
        (tmp / MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", "utf-8")
        try:
            _replace_dir(tmp, out)
        except OSError:
            # a concurrent prepare of the same data may have put its result in place first
            theirs = read_marker(out)
            if theirs is None or {key: theirs.get(key) for key in expected} != expected:
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except _ToolFailed as failed:
        shutil.rmtree(tmp, ignore_errors=True)
        proc = failed.proc
        error_log = out.parent / f"{out.name}.error.log"
        error_log.write_text(f"$ {' '.join(failed.args_)}\n{proc.stdout}\n{proc.stderr}", "utf-8")
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise EvotransError(
            f"{Path(failed.args_[0]).name} exited with status {proc.returncode}: {last} "
            f"(full output in {error_log})"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"prepared {out} in {time.monotonic() - started:.1f} s")
    return out


def _replace_dir(new: Path, out: Path) -> None:
    """Move ``new`` to ``out``, replacing an older ``out`` (rename, so readers never see half)."""
    old = None
    if out.exists() or out.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / out.name)
    os.rename(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _train_spm(inputs: list[Path], prefix: Path, params: dict[str, Any]) -> Path:
    """Train a sentencepiece model on the lines of ``inputs``; returns ``prefix.model``.

    The text is streamed and the model written from memory, so that no (temporary) path ends
    up in the model's trainer spec: the same inputs give the same bytes.
    """
    import io

    import sentencepiece as spm

    def lines():
        for path in inputs:
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if line:
                        yield line

    spm.set_random_generator_seed(params["seed"])
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=lines(),
        model_writer=buffer,
        vocab_size=params["vocab_size"],
        model_type=params["model_type"],
        character_coverage=params["character_coverage"],
        input_sentence_size=params["input_sentence_size"],
        shuffle_input_sentence=True,
        max_sentence_length=1 << 15,  # WikiText paragraphs are long "sentences"
        hard_vocab_limit=False,  # small corpora may not support the full vocabulary
        num_threads=1,  # deterministic
        minloglevel=2,
    )
    model = prefix.with_suffix(".model")
    model.write_bytes(buffer.getvalue())
    processor = spm.SentencePieceProcessor(model_file=str(model))
    with prefix.with_suffix(".vocab").open("w", encoding="utf-8") as fh:
        for i in range(processor.get_piece_size()):
            fh.write(f"{processor.id_to_piece(i)}\t{processor.get_score(i):g}\n")
    return model


def _encode(model: Path, src: Path, dst: Path) -> int:
    """Write ``src`` as space-separated sentencepiece pieces to ``dst``; returns its lines."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(model))
    with src.open(encoding="utf-8") as fh:
        lines = [line.strip() for line in fh]
    pieces = processor.encode(lines, out_type=str)
    with dst.open("w", encoding="utf-8") as fh:
        for line in pieces:
            fh.write(" ".join(line) + "\n")
    return len(lines)


class _ToolFailed(Exception):
    def __init__(self, args: list[str], proc: subprocess.CompletedProcess) -> None:
        super().__init__(args[0])
        self.args_ = args
        self.proc = proc


def _run(args: list[str], workdir: Path) -> None:
    """Run a tool (argument list, never a shell string), its output captured."""
    proc = subprocess.run(args, capture_output=True, text=True, cwd=workdir)
    if proc.returncode != 0:
        raise _ToolFailed(args, proc)
