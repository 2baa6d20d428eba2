"""Text classification: a CSV with a text and a label column. A WordPiece tokenizer is trained on
the texts (``tokenizers``) and saved beside the cache; documents longer than ``max_length`` tokens
become several overlapping chunks that share the document's split."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from .cache import CacheWriter
from .collected import Collected
from .csvfile import column, read_csv
from .limits import Limits
from .options import TextOptions
from .report import IngestError, ProgressFn, Report

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
PAD_ID = 0


def train_tokenizer(texts: list[str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def chunk_ids(ids: list[int], max_length: int, stride: int, max_chunks: int) -> list[list[int]]:
    """Windows of ``max_length`` ids overlapping by ``stride``; at least one (maybe empty)."""
    step = max_length - stride
    chunks = [ids[start : start + max_length] for start in range(0, max(len(ids) - stride, 1), step)]
    return chunks[:max_chunks] or [[]]


def ingest_text(source: Path, shown: str, options: TextOptions, limits: Limits, report: Report,
                progress: ProgressFn, cache: Path) -> Collected:
    header, rows = read_csv(source, limits, name=shown)
    text_col = column(header, options.text_column, shown)
    label_col = column(header, options.label_column, shown)
    documents: list[tuple[int, str, str]] = []
    for line, row in enumerate(rows, 2):
        text, label = row[text_col].strip(), row[label_col].strip()  # type: ignore[index]
        if not text or not label:
            report.skip(f"{shown}:{line}", "empty_row", "the text or the label is empty")
            continue
        if "\x00" in text:
            report.skip(f"{shown}:{line}", "nul_byte", "the text contains a NUL byte")
            continue
        documents.append((line, text, label))
    if len(documents) < 2:
        raise IngestError("too_few_rows", "at least two rows with a text and a label are needed", shown)
    progress("tokenizer", 0, 1)
    tokenizer = train_tokenizer([d[1] for d in documents], options.vocab_size)
    tokenizer.save(str(cache / "tokenizer.json"))
    progress("tokenizer", 1, 1)
    encoded = []
    for done, (line, text, label) in enumerate(documents, 1):
        if done % 200 == 0:
            progress("encode", done, len(documents))
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        encoded.append((line, label, len(ids),
                        chunk_ids(ids, options.max_length, options.stride, options.max_chunks_per_document)))
    writer = CacheWriter(cache, sum(len(e[3]) for e in encoded), (options.max_length,), np.int32)
    out = Collected()
    lengths = []
    for line, label, length, chunks in encoded:
        lengths.append(length)
        for number, chunk in enumerate(chunks):
            padded = np.full(options.max_length, PAD_ID, dtype=np.int32)
            padded[: len(chunk)] = chunk
            writer.append(padded)
            out.add(f"row {line}" + (f" chunk {number + 1}" if len(chunks) > 1 else ""), label, f"doc{line}",
                    {"tokens": len(chunk), "document_tokens": length})
    writer.close()
    progress("encode", len(documents), len(documents))
    out.recipe = {"input": "text", "layout": "NL", "dtype": "int32", "tokenizer": "tokenizer.json",
                  "vocab_size": tokenizer.get_vocab_size(), "max_length": options.max_length,
                  "stride": options.stride, "pad_id": PAD_ID,
                  "steps": ["BERT normalisation (lowercase)", "WordPiece tokens trained on this data",
                            f"chunks of {options.max_length} tokens overlapping by {options.stride}",
                            "padded with [PAD]=0"]}
    counts, edges = np.histogram(np.asarray(lengths), bins=20)
    out.stats = {"documents": len(documents), "chunks": len(out.names),
                 "vocab_size": tokenizer.get_vocab_size(),
                 "token_length_histogram": {"counts": counts.tolist(), "edges": edges.round(2).tolist()}}
    return out
