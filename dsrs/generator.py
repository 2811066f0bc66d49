"""Sample DSRs in the real format, with the flaws real ones have, deterministic by seed.

Resources come from one catalogue shared by every generated file (fixed seed), so the same
dsp_id shows up across DSRs as it does across a DSP's real reports. Revenue is heavy-tailed
(Pareto), as streaming revenue is: a few resources earn most of it.
"""

import contextlib
import gzip
import io
import random
import string
from pathlib import Path

from dsrs.lines import HEADER

CATALOGUE_SEED = 20200101
# Half as many resources as lines, up to this many: the catalogue is held in memory (~0.5 KB a
# resource) so that files share resources, and a bigger one would not make a file more realistic.
MAX_CATALOGUE = 1_250_000
WORDS = (
    "love night heart fire dream light rain city road home blue gold wild time summer river "
    "shadow dance star moon girl boy song story ocean wind stone sky heaven broken young"
).split()
FIRST_NAMES = "Anna Ben Carla David Elena Frank Grace Hugo Irene Jon Karen Luis Maria Nils Olga Pablo".split()
LAST_NAMES = "Smith Garcia Berg Rossi Dubois Novak Silva Jensen Kowalski Moreau Lopez Weber".split()


def _catalogue_entry(rng: random.Random) -> tuple[str, str, str, str]:
    dsp_id = "".join(rng.choices(string.ascii_letters, k=30))
    title = " ".join(rng.choices(WORDS, k=rng.randint(1, 4)))
    artists = "|".join(
        f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(rng.randint(1, 4))
    )
    isrc = "".join(rng.choices(string.ascii_uppercase, k=5)) + f"{rng.randrange(10**7):07d}"
    return dsp_id, title, artists, isrc


def catalogue(size: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(CATALOGUE_SEED)
    return [_catalogue_entry(rng) for _ in range(size)]


def generate_dsr(path: Path, *, lines: int, seed: int, catalogue_size: int | None = None) -> None:
    """Write a DSR of `lines` usage lines to `path` (gzipped when it ends in .gz).

    Flaws as in real deliveries: empty usages or revenue (meaning 0), empty title, artists or
    isrc, revenue in scientific notation, a dsp_id repeated inside the file, and CRLF line ends
    for odd seeds.
    """
    rng = random.Random(seed)
    resources = catalogue(catalogue_size or min(max(10, lines // 2), MAX_CATALOGUE))
    newline = "\r\n" if seed % 2 else "\n"
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "wb"))
        if path.suffix == ".gz":
            # No name nor time in the gzip header: the same seed gives the same bytes.
            raw = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6))
        out = stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        out.write("\t".join(HEADER) + newline)
        batch = []
        for _ in range(lines):
            dsp_id, title, artists, isrc = rng.choice(resources)
            flaw = rng.random()
            usages = str(int(rng.paretovariate(1.2) * 100))
            revenue = f"{rng.paretovariate(1.1) * 0.5:.6f}"
            if flaw < 0.02:
                usages = ""
            elif flaw < 0.04:
                revenue = ""
            elif flaw < 0.05:
                title = ""
            elif flaw < 0.06:
                artists = isrc = ""
            elif flaw < 0.065:
                revenue = repr(rng.random() * 1e-12)  # e.g. 7.3e-13, as real files carry
            batch.append("\t".join((dsp_id, title, artists, isrc, usages, revenue)))
            if len(batch) == 10_000:
                out.write(newline.join(batch) + newline)
                batch.clear()
        if batch:
            out.write(newline.join(batch) + newline)


# The samples in data/, which `make run` ingests: `generate_dsr --samples data`.
SAMPLES = {
    "Spotify_SpotifyPremium_ES_EUR_20240101-20240131.tsv.gz": 2,
    "Spotify_SpotifyDuo_NO_NOK_20240101-20240131.tsv.gz": 3,
    "Spotify_SpotifyFree_CH_CHF_20240201-20240229.tsv.gz": 4,
    "Spotify_SpotifyStudent_GB_GBP_20240301-20240331.tsv.gz": 5,
    "YouTube_YouTubeMusic_SGAE_ES_EUR_20240301-20240331.tsv": 7,
}
SAMPLE_LINES = 1000


def generate_samples(directory: Path) -> list[Path]:
    paths = []
    for name, seed in SAMPLES.items():
        paths.append(directory / name)
        generate_dsr(directory / name, lines=SAMPLE_LINES, seed=seed)
    return paths
