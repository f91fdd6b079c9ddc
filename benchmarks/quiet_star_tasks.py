"""The synthetic tasks of the Quiet-STaR benchmark (bench_quiet_star.py): problems, their worked form,
the held-out split, and the windows of packed problems with the mask of the scored answer tokens.

A task writes a problem as a fixed-length prompt ending in its trigger token ('=' or '?'), then the
answer; worked, the intermediate step comes first between the ordinary bracket tokens: prompt, '(',
step, ')', answer. The thought at the trigger sits exactly where the worked step would. Answers and
steps are written in symbol tokens (the digits), and scored as the argmax among them.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

EOS, START, END = 2, 5, 6
DIGIT, PLUS, EQUALS, OPEN, CLOSE = 10, 20, 21, 22, 23  # digit d is token 10 + d; OPEN / CLOSE: ordinary brackets
MAPS, COMMA, QUERY = 24, 25, 26  # '>' , '?' of the pointer-chasing table
VOCAB = 32
IGNORE = -1  # a target the loss skips (thresher.train.model.IGNORE)
NAMES = {EOS: "$", START: "<", END: ">", PLUS: "+", EQUALS: "=", OPEN: "(", CLOSE: ")", MAPS: ">", COMMA: ",",
         QUERY: "?"}  # for printing
TOKENS = {**{c: t for t, c in NAMES.items() if t not in (START, END)}, **{str(d): DIGIT + d for d in range(10)}}


def decode(tokens) -> str:
    """Tokens -> text: [10, 13, 20, 14, 15, 21, 22] -> '03+45=('; the thought markers as < >, EOS as $."""
    return "".join(str(t - DIGIT) if DIGIT <= t < DIGIT + 10 else NAMES.get(t, "?") for t in tokens)


def encode(text: str) -> list[int]:
    """'03+45=' -> [10, 13, 20, 14, 15, 21]; '$' is EOS."""
    return [TOKENS[c] for c in text]


class Addition:
    """`a+b=s` with `digits`-digit numbers, the sum most significant digit first; worked, the sum least
    significant digit first (the order its carries are computed in) between brackets before it:
    58+67=(521)125. Held out: (a * 7 + b) % 10 == 0, i.e. b's units digit is 3 x a's (mod 10)."""

    name = "add"
    trigger = EQUALS

    def __init__(self, digits: int):
        self.digits = digits
        self.symbols = 10  # the answer is written in the ten digits
        self.prompt_len = 2 * digits + 2  # 'a+b='
        self.step_len = self.answer_len = digits + 1

    def key(self) -> str:
        return f"d{self.digits}"

    def describe(self) -> str:
        return f"{self.digits}-digit addition, sum most significant digit first"

    def sample(self, rng: np.random.Generator) -> tuple[int, int]:
        hi = 10 ** self.digits
        return int(rng.integers(hi)), int(rng.integers(hi))

    def held_out(self, spec: tuple[int, int]) -> bool:
        a, b = spec
        return (a * 7 + b) % 10 == 0

    def problem(self, spec: tuple[int, int], worked: bool = False) -> list[int]:
        """(3, 45) with 2 digits -> tokens of '03+45=048' then EOS; worked '03+45=(840)048$'."""
        a, b = spec
        s = f"{a + b:0{self.digits + 1}d}"
        return encode(f"{a:0{self.digits}d}+{b:0{self.digits}d}=" + (f"({s[::-1]})" if worked else "") + s + "$")

    def parse(self, prompt: list[int]) -> tuple[int, int]:
        """The prompt's tokens 'a+b=' -> (a, b)."""
        a, b = decode(prompt)[:-1].split("+")
        return int(a), int(b)


class Hops:
    """Pointer chasing: a random permutation f of `symbols` symbols (the digit tokens), its table in a
    random order as `x>y` pairs, then the query `x?` and the answer f^hops(x): with 4 symbols and 2
    hops '2>0,0>3,3>1,1>2,0?1$'; worked, the hops between the brackets: '2>0,...,0?(3)1$'. Held out:
    a problem (the function and the start, whatever the table's order) whose CRC-32 is 0 mod 10, so
    every symbol pair is seen in training and no held-out problem is, in either form."""

    name = "hops"
    trigger = QUERY

    def __init__(self, symbols: int, hops: int):
        self.symbols, self.hops = symbols, hops
        self.prompt_len = 4 * symbols + 2  # 'x>y,' per pair, then 'x?'
        self.step_len, self.answer_len = hops - 1, 1

    def key(self) -> str:
        return f"hops-m{self.symbols}-k{self.hops}"

    def describe(self) -> str:
        return f"pointer chasing, {self.hops} hops over a table of {self.symbols} symbols"

    def sample(self, rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        """(f, order, start): f[x] is x's image, `order` the table's listing order of the sources."""
        f, order = rng.permutation(self.symbols), rng.permutation(self.symbols)
        return tuple(f.tolist()), tuple(order.tolist()), int(rng.integers(self.symbols))

    def held_out(self, spec) -> bool:
        f, _, x = spec
        return zlib.crc32(bytes([*f, x])) % 10 == 0

    def chain(self, spec) -> list[int]:
        """[f(x), f(f(x)), ..., f^hops(x)]."""
        f, _, x = spec
        out = []
        for _ in range(self.hops):
            x = f[x]
            out.append(x)
        return out

    def problem(self, spec, worked: bool = False) -> list[int]:
        f, order, x = spec
        *step, answer = self.chain(spec)
        table = ",".join(f"{s}>{f[s]}" for s in order)
        return encode(f"{table},{x}?" + ("(" + "".join(map(str, step)) + ")" if worked else "") + f"{answer}$")

    def parse(self, prompt: list[int]):
        """The prompt's tokens 'x>y,...,x?' -> (f, order, start)."""
        *pairs, query = decode(prompt).split(",")
        f = [0] * self.symbols
        for p in pairs:
            f[int(p[0])] = int(p[2])
        return tuple(f), tuple(int(p[0]) for p in pairs), int(query[0])


def symbol_argmax(task, logits: torch.Tensor) -> torch.Tensor:
    """The most likely of the task's symbol tokens, (..., V) -> (...): an answer is always a symbol,
    and after the trigger a model trained on both forms also expects '(' (the start of a worked step)."""
    return logits[..., DIGIT:DIGIT + task.symbols].argmax(-1) + DIGIT


def windows(task, rng: np.random.Generator, n: int, T: int, test: bool,
            worked: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n rows of T + 1 tokens, packed problems (each row starts with one), a fraction `worked` of them
    in the worked form, and a (n, T) mask of the targets that are the symbols after the trigger (the
    answer; in a worked problem the worked step and the answer) of a problem whose answer lies wholly
    inside the row, with each target's problem number in its row (-1 elsewhere). `test`: only held-out
    problems, else none."""
    rows, owner = np.zeros((n, T + 1), np.int64), np.full((n, T), -1)
    for r in range(n):
        toks, own, k = [], [], 0
        while len(toks) < T + 1:
            while True:
                spec = task.sample(rng)
                if task.held_out(spec) == test:
                    break
            p = task.problem(spec, worked > 0 and rng.random() < worked)
            own += [k if j >= task.prompt_len and DIGIT <= p[j] < DIGIT + 10 else -1 for j in range(len(p))]
            toks += p
            k += 1
        rows[r] = toks[:T + 1]
        # the target at t is token t + 1: it belongs to the problem of token t + 1
        owner[r] = np.array(own[1:T + 1])
        if len(toks) - 2 > T:  # the last problem's last symbol (before its EOS) lies past the row's last target
            owner[r][owner[r] == k - 1] = -1
    return rows, owner


def without_prompts(task, rows: np.ndarray) -> np.ndarray:
    """The (n, T) targets of `rows` with every problem's prompt tokens set to IGNORE (-1, not scored
    by the loss), so the model learns only what follows the trigger: a row '1>0,0>1,0?(1)0$...' of 2
    symbols -> targets IGNORE up to '?' (the first token is no target), then '(', '1', ')', '0', '$'."""
    y = rows[:, 1:].copy()
    T = y.shape[1]
    for r in range(rows.shape[0]):
        for s0 in np.r_[0, np.flatnonzero(rows[r] == EOS) + 1]:  # each problem's first token; the target of token j is at j - 1
            y[r, max(s0 - 1, 0):min(s0 - 1 + task.prompt_len, T)] = IGNORE
    return y


def scored_problems(task, rows: np.ndarray, owner: np.ndarray) -> list:
    """The spec of each problem of plain `rows` whose answer is scored, row by row: a row
    '03+45=048$...' of 2-digit addition -> [(3, 45), ...]."""
    specs = []
    for r in range(owner.shape[0]):
        for k in sorted(set(owner[r][owner[r] >= 0].tolist())):
            t0 = int(np.flatnonzero(owner[r] == k)[0])  # the first target is token t0 + 1, so token t0 is the trigger
            assert rows[r, t0] == task.trigger and rows[r, t0 + 1] != OPEN, "scored_problems reads plain problems only"
            specs.append(task.parse(rows[r, t0 + 1 - task.prompt_len:t0 + 1].tolist()))
    return specs
