"""The bias audit of the filter stage: what each filter removed, by source, language and kind.

For every filter (the part of `reason` before the colon) and every group (a source, a language or a
kind), the drop rate is rejected / (kept + all rejected) in that group. A filter is flagged when its
drop rate in one group is far above its overall rate (`ratio` times and at least `min_gap` more,
over at least `min_n` records): the sign that a filter removes a language or a source rather than
garbage. Written to `filter/_audit/drop_rates.parquet` (all rows) and `filter/_audit/drop_rates.md`
(the table): in a subfolder, because every `*.parquet` directly in `filter/` is read as records by
the next stage.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from thresher.errors import ThresherError

GROUPS = ("source", "lang", "kind")


def load(workdir: Path) -> pl.DataFrame:
    """One row per record of the filter stage: source, lang, kind, filter (null when kept), reason, text head."""
    folder = Path(workdir) / "filter"
    kept, rejected = sorted(folder.glob("*.parquet")), sorted((folder / "_rejected").glob("*.parquet"))
    if not kept and not rejected:
        raise ThresherError(f"no filter output in {folder}: run the filter stage first")
    cols = ["id", "source", "lang", "kind", "reason", "uri", "text"]
    frames = [pl.read_parquet(f, columns=cols) for f in kept + rejected]
    df = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    return df.with_columns(
        pl.col("reason").str.split(":").list.first().alias("filter"),
        pl.col("text").str.slice(0, 120).str.replace_all("\n", " ").alias("text"),
        *(pl.col(g).fill_null("?") for g in GROUPS),
    )


def drop_rates(df: pl.DataFrame, *, ratio: float = 3.0, min_gap: float = 0.1, min_n: int = 5) -> pl.DataFrame:
    """Rows: filter, group (source|lang|kind), value, n (records in the group), dropped, rate,
    overall (the filter's rate over all records), flagged."""
    total = df.height
    filters = sorted(f for f in df["filter"].unique().to_list() if f is not None)
    rows = []
    for group in GROUPS:
        sizes = df.group_by(group).len().rename({"len": "n"})
        for name in filters:
            overall = df.filter(pl.col("filter") == name).height / total
            dropped = df.filter(pl.col("filter") == name).group_by(group).len().rename({"len": "dropped"})
            part = sizes.join(dropped, on=group, how="left").with_columns(pl.col("dropped").fill_null(0))
            for r in part.iter_rows(named=True):
                rate = r["dropped"] / r["n"]
                flagged = (r["n"] >= min_n and rate >= ratio * overall and rate - overall >= min_gap)
                rows.append({"filter": name, "group": group, "value": str(r[group]), "n": r["n"],
                             "dropped": r["dropped"], "rate": rate, "overall": overall, "flagged": flagged})
    schema = {"filter": pl.String, "group": pl.String, "value": pl.String, "n": pl.Int64, "dropped": pl.Int64,
              "rate": pl.Float64, "overall": pl.Float64, "flagged": pl.Boolean}
    return pl.DataFrame(rows, schema=schema).sort("filter", "group", "value")


def samples(df: pl.DataFrame, per_reason: int = 3, seed: int = 0) -> pl.DataFrame:
    """A few rejected records for each reason (seeded)."""
    rejected = df.filter(pl.col("reason").is_not_null())
    if rejected.is_empty():
        return rejected.select("reason", "lang", "kind", "uri", "text")
    parts = [g.sample(min(per_reason, g.height), seed=seed) for _, g in rejected.group_by("reason", maintain_order=True)]
    return pl.concat(parts).select("reason", "lang", "kind", "uri", "text").sort("reason")


def markdown(rates: pl.DataFrame) -> str:
    """The table as Markdown, flagged rows marked with ⚠."""
    lines = ["| filter | by | value | n | dropped | rate | overall | |", "|---|---|---|---:|---:|---:|---:|---|"]
    for r in rates.filter(pl.col("dropped") > 0).iter_rows(named=True):
        lines.append(f"| {r['filter']} | {r['group']} | {r['value']} | {r['n']} | {r['dropped']} | {r['rate']:.1%} "
                     f"| {r['overall']:.1%} | {'⚠' if r['flagged'] else ''} |")
    return "\n".join(lines) + "\n"


def write(workdir: Path, rates: pl.DataFrame) -> tuple[Path, Path]:
    """filter/_audit/drop_rates.parquet and .md, atomically."""
    folder = Path(workdir) / "filter" / "_audit"
    folder.mkdir(parents=True, exist_ok=True)
    pq_path, md_path = folder / "drop_rates.parquet", folder / "drop_rates.md"
    rates.write_parquet(pq_path.with_suffix(".parquet.tmp"))
    os.replace(pq_path.with_suffix(".parquet.tmp"), pq_path)
    md_path.with_suffix(".md.tmp").write_text(markdown(rates), encoding="utf-8")
    os.replace(md_path.with_suffix(".md.tmp"), md_path)
    return pq_path, md_path
