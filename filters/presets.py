"""Threshold presets for the filter stage; a config key left unset takes its preset's value.

`garbage_only` (the default) removes garbage and nothing else: every rule that judges *style* in
datatrove's recipes is off (terminal punctuation, short lines, bullet lists, words per line, curly
brackets, English stop words), because those rules drop poetry, lists, tables, dialogue, code and
languages other than English. What stays are rules no real text trips: a handful of words at least,
heavy repetition, keyword spam, lorem ipsum, symbol soup, menus and banners, mojibake.

`datatrove` is the FineWeb-style recipe with datatrove's own defaults (English stop words
included), for comparison: the quality benchmark shows what it drops from good non-English text,
poems and lists.
"""

from __future__ import annotations

from typing import Any

GARBAGE_ONLY: dict[str, dict[str, Any]] = {
    "gopher_quality": dict(
        enabled=True, min_doc_words=5, max_doc_words=0, min_avg_word_length=0, max_avg_word_length=20,
        max_symbol_word_ratio=0.5, max_bullet_lines_ratio=0, max_ellipsis_lines_ratio=0.9,
        max_non_alpha_words_ratio=0.25, min_stop_words=1,
    ),
    "gopher_repetition": dict(
        enabled=True, dup_line_frac=0.6, dup_para_frac=0.6, dup_line_char_frac=0.6, dup_para_char_frac=0.6,
        top_n_grams=[(2, 0.3), (3, 0.3), (4, 0.3)], dup_n_grams=[(5, 0.7), (10, 0.6)],
    ),
    "c4": dict(
        enabled=True, keep_text=True, remove_citations=False, filter_no_terminal_punct=False,
        min_num_sentences=-1, min_words_per_line=-1, max_word_length=-1, filter_lorem_ipsum=True,
        filter_javascript=False, filter_curly_bracket=False, filter_policy=False,
    ),
    "fineweb": dict(
        enabled=True, line_punct_thr=0.0, line_punct_exclude_zero=True, short_line_thr=0.0,
        short_line_length=30, char_duplicates_ratio=0.7, new_line_ratio=0.0,
    ),
    "garbage": dict(enabled=True, max_chrome_frac=0.6, max_mojibake_ratio=0.3, max_replacement_ratio=0.01,
                    min_vowel_ratio=0.28),
    "media": dict(
        enabled=True, image_min_side=20, image_max_aspect=12.0, image_min_contrast=4.0, gif_min_frames=1,
        gif_max_frames=5000, gif_max_duration_s=600.0, audio_min_duration_s=0.5, audio_max_duration_s=4 * 3600.0,
        audio_max_silence=0.95, audio_max_clipping=0.2, midi_min_notes=4, midi_min_duration_s=1.0,
        midi_max_polyphony=64, blob_min_bytes=16, blob_max_bytes=2**31, doc_min_chars=20, doc_max_garbled=0.3,
    ),
}

# datatrove 0.10.1's defaults (the FineWeb recipe); media and garbage rules as in garbage_only.
DATATROVE: dict[str, dict[str, Any]] = {
    "gopher_quality": dict(
        enabled=True, min_doc_words=50, max_doc_words=100000, min_avg_word_length=3, max_avg_word_length=10,
        max_symbol_word_ratio=0.1, max_bullet_lines_ratio=0.9, max_ellipsis_lines_ratio=0.3,
        max_non_alpha_words_ratio=0.8, min_stop_words=2, stop_words="en",
    ),
    "gopher_repetition": dict(
        enabled=True, dup_line_frac=0.3, dup_para_frac=0.3, dup_line_char_frac=0.2, dup_para_char_frac=0.2,
        top_n_grams=[(2, 0.2), (3, 0.18), (4, 0.16)],
        dup_n_grams=[(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)],
    ),
    "c4": dict(
        enabled=True, keep_text=False, remove_citations=True, filter_no_terminal_punct=True, min_num_sentences=5,
        min_words_per_line=3, max_word_length=1000, filter_lorem_ipsum=True, filter_javascript=True,
        filter_curly_bracket=True, filter_policy=True,
    ),
    "fineweb": dict(
        enabled=True, line_punct_thr=0.12, line_punct_exclude_zero=False, short_line_thr=0.67,
        short_line_length=30, char_duplicates_ratio=0.01, new_line_ratio=0.3,
    ),
    "garbage": GARBAGE_ONLY["garbage"],
    "media": GARBAGE_ONLY["media"],
}

PRESETS = {"garbage_only": GARBAGE_ONLY, "datatrove": DATATROVE}
