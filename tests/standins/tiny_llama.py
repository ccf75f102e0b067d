#!/usr/bin/env python3
"""A tiny random-weight Llama and a local tokenizer, for the tests that quantize for real (no hub, no download).

Usage: tiny_llama.py OUT_DIR [--seed N]      (or make(OUT_DIR) from a test)

hidden 256, intermediate 512, 2 layers, 4 heads, 2 KV heads, vocab 1000,
rope_theta 500000, float32; saved with save_pretrained (config.json,
model.safetensors) beside a WordLevel tokenizer (tokenizer.json,
tokenizer_config.json). 256 and 512 in-features keep int4_awq's group of 128 valid
up to tp 2 and a group of 64 up to tp 4. The same seed gives the same bytes.
`calibration_lines` writes text the tokenizer knows, in lines long enough for
GPTQModel (which drops samples of 10 tokens or fewer).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

VOCAB_SIZE = 1000
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
WORDS = (  # noqa: SIM905
    "the of and to in is was for on that with as by at from it an be are this which or his her they we you he "
    "she not but have has had were been their its one all can will more other there some would about into than "
    "these when what time only new first also after two may most used many such made over then them so like "
    "well model data text token quantize engine build test rank node gpu cpu llama tensor"
).split()
CONFIG = {
    "vocab_size": VOCAB_SIZE, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048, "rope_theta": 500000.0,
    "rms_norm_eps": 1e-6, "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 3, "tie_word_embeddings": False,
}


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(SPECIALS)}
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    for word in [*letters, ".", ",", "!", "?", "'", "-", ":", ";", "(", ")", *WORDS]:
        vocab.setdefault(word, len(vocab))
    i = 0
    while len(vocab) < VOCAB_SIZE:
        vocab.setdefault(f"w{i}", len(vocab))
        i += 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", model_max_length=2048)


def make(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the model and tokenizer into out_dir (created); returns it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(LlamaConfig(**CONFIG)).eval()  # type: ignore[arg-type]
    model.save_pretrained(str(out), safe_serialization=True)
    _tokenizer().save_pretrained(str(out))  # type: ignore[attr-defined]
    return out


def calibration_lines(path: str | Path, lines: int = 64, words: int = 48, seed: int = 0) -> Path:
    """A calibration text file: `lines` lines of `words` known words each, one sample per line."""
    rng = random.Random(seed)
    text = "\n".join(" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(lines)) + "\n"
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calib", help="also write a calibration text file here")
    args = parser.parse_args(argv)
    make(args.out_dir, args.seed)
    if args.calib:
        calibration_lines(args.calib)
    print(f"wrote a tiny Llama and its tokenizer to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
