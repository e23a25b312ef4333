"""The dataset's names (SPEC §2) and the names sibling stages share, defined once: every stage and models/
import them from here.

A leaf module: it imports nothing, so the parameter, sequence, render and dataset stages and DecFlow can all
depend on it without depending on one another.
"""

from __future__ import annotations

# The dataset's splits, in the order split ratios are given.
SPLITS: tuple[str, ...] = ("train", "val", "test")
# Order = AffectNet expression codes 0..8 (9 "uncertain" and 10 "no face" are not emotions).
EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none")
# The two flows of every pair: F_t^f towards the next facial frame, F_t^h towards the next head frame.
FLOW_KINDS: tuple[str, ...] = ("facial", "head")
# Hairstyles: the prior draws one per person (and sets the head's hair volume from it), the appearance paints it.
HAIR_STYLES: tuple[str, ...] = ("bald", "shaved", "receding", "short", "long", "bob", "afro", "bun")
