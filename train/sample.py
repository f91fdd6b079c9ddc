"""Sampling from a checkpoint: a prompt of text, image or audio in, tokens out, decoded to files.

    thresher sample WORKDIR/train/run                      # the run's latest checkpoint
    thresher sample step_000200.pt --prompt "Once" --tokens 200 --temperature 0.8 --top-p 0.9
    thresher sample RUN --image cat.png --caption          # <|image|> codes <|/image|> <|caption|> -> a caption

The prompt is encoded with the tokenizer the shards were made with (its fingerprint must match the
checkpoint's). The train stage copies that tokenizer into the run folder (`RUN/tokenizer/`), so a run
folder samples from any directory and after the workdir is moved; `--vocab` overrides it; generation runs with a KV cache, one token at a time, and stops at the end-of-document
token or after `max_new` tokens. The tokens are parsed back into text and media with the tokenizer's
decoders: text to stdout and `sample_N.txt`, images to PNG, audio to WAV, MIDI to .mid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from thresher.train import checkpoint as ckpt
from thresher.train.model import Transformer
from thresher.train.presets import from_dict

from thresher.errors import StageError


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its latest checkpoint)."""
    path = Path(path)
    if path.is_dir():
        found = ckpt.latest(path / "checkpoints") if (path / "checkpoints").is_dir() else ckpt.latest(path)
        if found is None:
            raise StageError(f"{path} holds no checkpoint (no checkpoints/latest.json); train first")
        return found
    if not path.is_file():
        raise StageError(f"checkpoint {path} not found")
    return path


RUN_TOKENIZER = "tokenizer"  # RUN/tokenizer/: the copy of the tokenizer a run was trained with


def run_folder(checkpoint: Path) -> Path:
    """RUN for RUN/checkpoints/step_N.pt (a checkpoint moved elsewhere: the folder it lies in)."""
    checkpoint = Path(checkpoint)
    return checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent


def bundle_tokenizer(vocab_dir: str | Path, run_dir: str | Path) -> Path | None:
    """Copy WORKDIR/tokenizer's vocab.json and model files into RUN/tokenizer (vocab.json last, each
    file through a temporary name), so the run folder holds all that sampling and export need.
    Nothing to copy (no vocab.json: shards made elsewhere) returns None; a copy whose fingerprint
    already matches is kept as it is; a copy of another vocabulary in a run that has checkpoints is
    refused (those checkpoints need it). Returns the copy's folder."""
    import shutil

    from thresher.tokenizer.layout import FILES, read_layout

    src, dst = Path(vocab_dir), Path(run_dir) / RUN_TOKENIZER
    if not (src / "vocab.json").is_file():
        return None
    want = read_layout(src / "vocab.json").get("fingerprint")
    if (dst / "vocab.json").is_file():
        have = read_layout(dst / "vocab.json").get("fingerprint")
        if have == want:
            return dst
        if ckpt.by_step(Path(run_dir) / "checkpoints"):
            raise StageError(f"{run_dir} was trained with vocabulary {have}, but {src} holds {want}: choose another "
                             f"train.run, or retrain this one (`thresher train CONFIG --force`)")
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "vocab.json").unlink(missing_ok=True)  # absent until every model file is in place
    for name in [*sorted(FILES.values()), "vocab.json"]:
        tmp = dst / f".{name}.tmp"
        shutil.copyfile(src / name, tmp)
        tmp.replace(dst / name)
    return dst


def load_model(path: str | Path, device: str | torch.device = "cpu", dtype: str = "f32") -> tuple[Transformer, dict]:
    """The model of a checkpoint in eval mode, and the checkpoint's facts (eos_id, fingerprint, step,
    model_config, and `vocab_dir`: the run's own tokenizer copy when it has one, else the folder
    recorded at training, as recorded, in `vocab_recorded`). `dtype` bf16 or int8 shrinks the weights
    for CPU inference (train/quantize.py)."""
    path = resolve(path)
    blob = ckpt.read(path)
    model = Transformer(from_dict(blob["model_config"]), eos_id=blob["eos_id"])
    model.load_state_dict(blob["model"])
    facts = {k: blob[k] for k in ("eos_id", "fingerprint", "step", "model_config")}
    facts["quiet_star"] = blob.get("quiet_star")  # the mixing head of a Quiet-STaR phase (sampling with thoughts)
    own = run_folder(path) / RUN_TOKENIZER
    facts["vocab_recorded"] = blob.get("vocab_dir") or ""
    facts["vocab_dir"] = str(own) if (own / "vocab.json").is_file() else facts["vocab_recorded"]
    facts["checkpoint"] = str(path)
    model = model.to(device).eval()
    if dtype != "f32":
        from thresher.train.quantize import for_cpu

        model = for_cpu(model, dtype)
    return model, facts


def vocab_of(facts: dict, vocab_dir: str | Path | None = None, *, required: bool = True):
    """The tokenizer a checkpoint was trained with: `vocab_dir` when given, else the run's copy, else
    the folder recorded at training; its fingerprint must be the checkpoint's. With `required`
    False a checkpoint that names none gives None (an export without a tokenizer)."""
    from thresher.tokenizer.vocab import load_vocab

    folder = vocab_dir or facts.get("vocab_dir")
    if not folder:
        if not required:
            return None
        raise StageError(f"{facts['checkpoint']} names no tokenizer folder; pass --vocab WORKDIR/tokenizer")
    if vocab_dir is None and not (Path(folder) / "vocab.json").is_file():
        run = run_folder(Path(facts["checkpoint"]))
        raise StageError(f"no tokenizer for {facts['checkpoint']}: {run / RUN_TOKENIZER} is missing (the run was "
                         f"trained before runs carried their tokenizer) and {folder}, recorded at training, is "
                         f"not found from {Path.cwd()}; pass --vocab WORKDIR/tokenizer")
    return load_vocab(folder, expect_fingerprint=facts["fingerprint"])


def pick(logits_V: torch.Tensor, temperature: float, top_k: int, top_p: float, gen: torch.Generator) -> int:
    """One token id from (V,) logits: greedy at temperature 0, else sampled from the distribution cut
    to the `top_k` most likely tokens and then to the smallest set whose probability reaches `top_p`."""
    if temperature <= 0:
        return int(logits_V.argmax())
    logits = logits_V.float() / temperature
    if 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if 0 < top_p < 1:
        probs, order = torch.sort(torch.softmax(logits, -1), descending=True)
        outside = probs.cumsum(-1) - probs >= top_p  # tokens after the nucleus is already full
        logits[order[outside]] = float("-inf")
    probs = torch.softmax(logits, -1)
    return int(torch.multinomial(probs.cpu(), 1, generator=gen))


def opening(model: Transformer, prompt: list[int]) -> list[int]:
    """The ids generation starts from: the prompt, or for an empty one the end-of-document token (a
    new document begins after it, as in the packed training stream)."""
    if prompt:
        return prompt
    if model.eos_id is None:
        raise ValueError("an empty prompt needs the model's end-of-document id; give a prompt")
    return [model.eos_id]


@torch.no_grad()
def generate(model: Transformer, prompt: list[int], max_new: int, *, temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, seed: int = 0, stop_at_eos: bool = True, kv_cache: str = "same") -> list[int]:
    """Continue `prompt` (token ids) by up to `max_new` tokens; an empty prompt starts a new document
    (after an end-of-document token, as in the packed training stream)."""
    device, eos = model.embed.weight.device, model.eos_id
    prompt = opening(model, prompt)
    gen = torch.Generator().manual_seed(seed)
    caches = model.new_caches(1, len(prompt) + max_new, device, model.embed.weight.dtype, kv_cache)
    logits = model(torch.tensor([prompt], device=device), caches=caches)[0, -1]
    out: list[int] = []
    for _ in range(max_new):
        token = pick(logits, temperature, top_k, top_p, gen)
        if stop_at_eos and token == eos:
            break
        out.append(token)
        logits = model(torch.tensor([[token]], device=device), caches=caches)[0, -1]
    return out


@dataclass
class Prompt:
    text: str = ""
    image: Path | None = None
    audio: Path | None = None
    caption: bool = False  # end the prompt with <|caption|> (ask for the media's caption)
    files: list[Path] = field(default_factory=list)


def encode_prompt(p: Prompt, vocab) -> list[int]:
    """Media first (image, then audio), then text, then the caption marker when asked."""
    from thresher.tokenizer.encode import Encoder

    enc = Encoder(vocab)
    ids: list[int] = []
    for path, fn in ((p.image, enc.image), (p.audio, enc.audio)):
        if path is not None:
            if not Path(path).is_file():
                raise StageError(f"prompt file {path} not found")
            ids += fn(Path(path).read_bytes())
    ids += enc.text(p.text)
    if p.caption:
        ids.append(vocab.marker("<|caption|>"))
    return ids


def sample_to_files(checkpoint: str | Path, out: Path, prompt: Prompt, *, n: int = 1, max_new: int = 256,
                    temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, seed: int = 0,
                    vocab_dir: str | Path | None = None, device: str = "cpu", dtype: str = "f32",
                    thoughts: str | None = None, kv_cache: str = "same") -> list[dict]:
    """Draw `n` samples; decode each with the tokenizer into files under `out`. Returns one dict per
    sample: {"tokens": [...], "text": str, "files": [paths]}. `thoughts` ("show" or "hide") samples a
    Quiet-STaR checkpoint with a thought before every token (train/quiet_star.py); "show" keeps each
    thought, between its markers, in the output. `kv_cache` bf16 or int8 stores keys and values
    smaller (train/attention.py KVCache)."""
    from thresher.tokenizer.decode import parse, text_of, write_files

    model, facts = load_model(checkpoint, device, dtype)
    vocab = vocab_of(facts, vocab_dir)
    ids = encode_prompt(prompt, vocab)
    results = []
    think = None
    if thoughts is not None:
        if thoughts not in ("show", "hide"):
            raise StageError(f"--thoughts {thoughts!r}: show or hide")
        from thresher.train.quiet_star import load_head
        from thresher.train.thought_sampling import generate_with_thoughts

        head, qc, markers = load_head({"quiet_star": facts["quiet_star"]}, model.cfg.d_model)
        think = lambda i: generate_with_thoughts(  # noqa: E731
            model, head.to(model.embed.weight.device), ids, max_new, markers, qc.thought_len, show=thoughts == "show",
            temperature=temperature, top_k=top_k, top_p=top_p, seed=seed + i)
    for i in range(n):
        tokens = think(i) if think else generate(model, ids, max_new, temperature=temperature, top_k=top_k, top_p=top_p,
                                                 seed=seed + i, kv_cache=kv_cache)
        parsed = parse(tokens, vocab)
        text = "".join(text_of(s, vocab) for s in parsed.segments if s.kind in ("text", "caption"))
        files = write_files(parsed, vocab, Path(out), f"sample_{i}")
        ids_file = Path(out) / f"sample_{i}.tokens.json"  # the raw ids too: a sample may decode to nothing
        ids_file.write_text(json.dumps({"prompt": ids, "generated": tokens}))
        files.append(ids_file)
        results.append({"tokens": tokens, "text": text, "files": files, "kinds": parsed.label})
    return results
