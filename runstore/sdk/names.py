"""Run ids (8 chars of [a-z0-9], as wandb) and readable names (adjective-noun-N)."""

from __future__ import annotations

import os

_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ADJECTIVES = ["amber", "autumn", "bold", "brisk", "calm", "clever", "cosmic", "crimson", "curious", "daring", "dashing", "deep", "dry", "eager", "electric", "fancy", "fearless", "fine", "floral", "fluent", "fresh", "gentle", "giddy", "glad", "golden", "graceful", "happy", "hardy", "honest", "icy", "jolly", "keen", "kind", "laced", "lively", "lucky", "lunar", "misty", "noble", "northern", "olive", "polar", "proud", "quiet", "rapid", "rare", "restful", "rosy", "royal", "rustic", "sandy", "serene", "sharp", "shiny", "silver", "smooth", "snowy", "solar", "spring", "stellar", "still", "stoic", "summer", "sunny", "swift", "tender", "twilight", "vivid", "warm", "wild", "winter", "wise", "young"]
NOUNS = ["aurora", "bird", "breeze", "brook", "bush", "butterfly", "cherry", "cloud", "dawn", "dew", "dream", "dust", "elm", "feather", "field", "fire", "firefly", "flower", "fog", "forest", "frog", "frost", "glade", "glitter", "grass", "haze", "hill", "lake", "leaf", "meadow", "moon", "morning", "mountain", "night", "oak", "ocean", "paper", "pine", "planet", "pond", "rain", "resonance", "river", "sea", "shadow", "shape", "silence", "sky", "smoke", "snow", "snowflake", "sound", "star", "stone", "sun", "sunset", "surf", "thunder", "tree", "violet", "voice", "water", "waterfall", "wave", "wildflower", "wind", "wood"]


def _choice(options: str | tuple[str, ...] | list[str]) -> str:
    """A uniform pick from the OS's randomness (`secrets` would cost ~7 ms of import at init)."""
    limit = 256 - 256 % len(options)  # reject the top bytes so every option is equally likely
    while True:
        for b in os.urandom(16):
            if b < limit:
                return options[b % len(options)]


def new_id(length: int = 8) -> str:
    return "".join(_choice(_ALPHABET) for _ in range(length))


def new_name(n: int) -> str:
    return f"{_choice(ADJECTIVES)}-{_choice(NOUNS)}-{n}"
