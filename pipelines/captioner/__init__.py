"""The bootstrapped captioner (BLIP CapFilt style), trained from the corpus's own image-text pairs.

    sequences.py  image-caption pairs from records; training and scoring rows
    model.py      the captioner: the project's Transformer, a caption-only loss, fit/save/load
    decode.py     batched caption sampling (KV cache, top-p) and the PMI score
    steps.py      the datatrove steps of the caption stage (train a round, caption the records)
"""
