"""Sample DSRs in the real format, with the flaws real ones have, deterministic by seed.

Resources come from one catalogue shared by every generated file, so the same dsp_id shows up
across DSRs as it does across a DSP's real reports. Two revenue distributions, since the cost of
the top-percentile query depends on how many resources make the head:
- "pareto": resources equally popular, revenue per line heavy-tailed, so a handful of lines earn
  a tenth of the revenue (a tiny head);
- "zipf": resource popularity Zipf-like and revenue per line narrow, as streaming is for most
  catalogues: about 1% of the resources earn a tenth of the revenue (a head of tens of thousands);
- "flat": a high-cardinality catalogue with no popular head, as real catalogues' long tails are.
  A file of L lines names resources of a pool of 2L, uniformly within a window of L of them that
  its seed places, so that files share resources by chance and not by popularity: four files
  name about four fifths of the pool on average (as their windows happen to overlap), forty
  nearly all of it. Each resource earns at a rate of its own, spread over four decades, and each
  of its lines 0.5 to 1.5 times that rate, so the head is the resources of the highest rates, each
  seen no more often than any other: about 1% of them over forty files, 0.6% over four (where
  the resources that chance names more than once weigh more).
"""

import base64
import binascii
import contextlib
import functools
import gzip
import hashlib
import io
import itertools
import random
import string
import struct
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from dsrs.formats.filenames import parse_dsrf_file_name
from dsrs.formats.tsv import HEADER

CATALOGUE_SEED = 20200101
# Half as many resources as lines, up to this many: the catalogue is held in memory (~0.5 KB a
# resource) so that files share resources, and a bigger one would not make a file more realistic.
MAX_CATALOGUE = 1_250_000
WORDS = [
    "love",
    "night",
    "heart",
    "fire",
    "dream",
    "light",
    "rain",
    "city",
    "road",
    "home",
    "blue",
    "gold",
    "wild",
    "time",
    "summer",
    "river",
    "shadow",
    "dance",
    "star",
    "moon",
    "girl",
    "boy",
    "song",
    "story",
    "ocean",
    "wind",
    "stone",
    "sky",
    "heaven",
    "broken",
    "young",
]
FIRST_NAMES = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Frank",
    "Grace",
    "Hugo",
    "Irene",
    "Jon",
    "Karen",
    "Luis",
    "Maria",
    "Nils",
    "Olga",
    "Pablo",
]
LAST_NAMES = [
    "Smith",
    "Garcia",
    "Berg",
    "Rossi",
    "Dubois",
    "Novak",
    "Silva",
    "Jensen",
    "Kowalski",
    "Moreau",
    "Lopez",
    "Weber",
]


def _catalogue_entry(rng: random.Random) -> tuple[str, str, str, str]:
    dsp_id = "".join(rng.choices(string.ascii_letters, k=30))
    title = " ".join(rng.choices(WORDS, k=rng.randint(1, 4)))
    artists = "|".join(f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in range(rng.randint(1, 4)))
    isrc = "".join(rng.choices(string.ascii_uppercase, k=5)) + f"{rng.randrange(10**7):07d}"
    return dsp_id, title, artists, isrc


def catalogue(size: int) -> list[tuple[str, str, str, str]]:
    rng = random.Random(CATALOGUE_SEED)
    return [_catalogue_entry(rng) for _ in range(size)]


def zipf_resource(rank: int) -> tuple[str, str, str, str]:
    """The resource of popularity `rank`, derived from the rank alone: a catalogue of tens of
    millions needs no memory, and every file names the same resource by the same rank."""
    digest = hashlib.blake2b(rank.to_bytes(8, "little"), digest_size=32, person=b"dsr-zipf").digest()
    dsp_id = base64.b64encode(digest[:17], altchars=b"xz").decode()[:22]
    title = " ".join(WORDS[byte % len(WORDS)] for byte in digest[17 : 18 + digest[17] % 4])
    artists = "|".join(
        f"{FIRST_NAMES[digest[22 + 2 * i] % len(FIRST_NAMES)]} {LAST_NAMES[digest[23 + 2 * i] % len(LAST_NAMES)]}"
        for i in range(1 + digest[21] % 3)
    )
    isrc = (
        "".join(string.ascii_uppercase[byte % 26] for byte in digest[27:32])
        + f"{int.from_bytes(digest[:4]) % 10**7:07d}"
    )
    return dsp_id, title, artists, isrc


# Popularity ~ rank^-ZIPF_EXPONENT over a catalogue of twice the lines of a file: four 2.5M-line
# files then name 3.9M distinct resources, of which about 1% earn 10% of the revenue.
ZIPF_EXPONENT = 0.5
ZIPF_CATALOGUE_PER_LINE = 2


def _zipf_picker(lines: int) -> Callable[[random.Random], tuple[str, str, str, str]]:
    # Inverse CDF of the continuous power law on [1, size]: one random() per line.
    exponent = 1 - ZIPF_EXPONENT
    span = (ZIPF_CATALOGUE_PER_LINE * max(lines, 10)) ** exponent - 1
    return lambda rng: zipf_resource(int((1 + rng.random() * span) ** (1 / exponent)))


def _zipf_amounts(rng: random.Random) -> tuple[str, str]:
    # Streams vary per line; the revenue per stream stays within a narrow band, as DSP rates do.
    usages = int(rng.lognormvariate(4.5, 0.5))
    return str(usages), f"{usages * rng.uniform(0.003, 0.005):.6f}"


def _pareto_amounts(rng: random.Random) -> tuple[str, str]:
    return str(int(rng.paretovariate(1.2) * 100)), f"{rng.paretovariate(1.1) * 0.5:.6f}"


# A file of L lines draws from a pool of FLAT_POOL_PER_LINE * L resources through a window of L.
FLAT_POOL_PER_LINE = 2
# A resource's rate log-uniform over FLAT_DECADES below FLAT_TOP_REVENUE (EUR), its lines' revenue
# 0.5 to 1.5 times its rate; usages 1 to FLAT_MAX_USAGES.
FLAT_DECADES = 4
FLAT_TOP_REVENUE = 1.0
FLAT_MAX_USAGES = 9
# A flat file derives a resource for most of its lines, so the derivation is made of C calls:
# a copy of a keyed hasher, and translations of the digest's bytes into the fields' characters.
_FLAT_HASHER = hashlib.blake2b(digest_size=40, person=b"dsr-flat")
_DSP_ID_ALPHABET = bytes.maketrans(b"+/", b"xz")  # zipf_resource's base64 (altchars "xz")
_LETTERS = bytes(ord(string.ascii_uppercase[byte % 26]) for byte in range(256))
_DIGITS = bytes(ord(string.digits[byte % 10]) for byte in range(256))


@functools.cache
def _flat_tables() -> tuple[tuple[list[str], list[str], list[str]], list[str], list[str]]:
    """Every title of one, two and three words, every artist's name and every pair of them: looking
    a field up costs a fraction of joining its pieces each time."""
    titles = tuple([" ".join(words) for words in itertools.product(WORDS, repeat=k)] for k in (1, 2, 3))
    names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    return titles, names, [f"{a}|{b}" for a in names for b in names]


def flat_resource(rank: int) -> tuple[str, str, str, str]:
    """The resource of `rank` in the flat pool, derived from the rank alone as zipf_resource's are,
    in a namespace of its own: no flat resource is a Zipf one."""
    hasher = _FLAT_HASHER.copy()
    hasher.update(rank.to_bytes(8, "little"))
    digest = hasher.digest()
    titles, names, pairs = _flat_tables()
    title, artists, third = struct.unpack_from("<IIH", digest, 17)
    words = titles[title % 3]
    # One, two or three artists: a name, a pair, or a pair and a name.
    artist_names = pairs[artists // 3 % len(pairs)] if artists % 3 else names[artists // 3 % len(names)]
    if artists % 3 == 2:
        artist_names += f"|{names[third % len(names)]}"
    return (
        binascii.b2a_base64(digest[:17], newline=False).translate(_DSP_ID_ALPHABET)[:22].decode(),
        words[title // 3 % len(words)],
        artist_names,
        (digest[27:32].translate(_LETTERS) + digest[32:39].translate(_DIGITS)).decode(),
    )


def flat_rate(rank: int) -> float:
    """The revenue per line of the resource of `rank` in the flat pool: its rank scattered over
    [0, 1) by Fibonacci hashing, as the exponent of a log-uniform rate. A rate of the resource's
    own, not of the line, keeps the head the same share of the resources however many lines name
    each of them: per line, a resource's sum over twenty lines would regress to the mean."""
    spread = (rank * 0x9E3779B97F4A7C15 % 2**64) / 2**64
    return FLAT_TOP_REVENUE * 10 ** (-FLAT_DECADES * spread)


class _FlatDraws:
    """A flat file's draws, one resource then its amounts per line (`pick`, then `amounts`): the
    amounts follow the rate of the resource picked last."""

    def __init__(self, *, lines: int, rng: random.Random) -> None:
        self.window = max(lines, 10)
        self.pool = FLAT_POOL_PER_LINE * self.window
        self.start = rng.randrange(self.pool)
        self.rank = 0

    def pick(self, rng: random.Random) -> tuple[str, str, str, str]:
        self.rank = (self.start + int(rng.random() * self.window)) % self.pool
        return flat_resource(self.rank)

    def amounts(self, rng: random.Random) -> tuple[str, str]:
        revenue = flat_rate(self.rank) * (0.5 + rng.random())
        return str(1 + int(rng.random() * FLAT_MAX_USAGES)), f"{revenue:.8f}"


DISTRIBUTIONS = ("pareto", "zipf", "flat")


def generate_dsr(path: Path, *, lines: int, seed: int, distribution: str = "pareto") -> None:
    """Write a DSR of `lines` usage lines to `path` (gzipped when it ends in .gz), its resources
    and revenue drawn from `distribution` (one of DISTRIBUTIONS).

    Flaws as in real deliveries: empty usages or revenue (meaning 0), empty title, artists or
    isrc, revenue in scientific notation, a dsp_id repeated inside the file, and CRLF line ends
    for odd seeds.
    """
    rng = random.Random(seed)
    if distribution == "pareto":
        resources = catalogue(min(max(10, lines // 2), MAX_CATALOGUE))
        pick, amounts = (lambda rng: rng.choice(resources)), _pareto_amounts
    elif distribution == "zipf":
        pick, amounts = _zipf_picker(lines), _zipf_amounts
    elif distribution == "flat":
        draws = _FlatDraws(lines=lines, rng=rng)
        pick, amounts = draws.pick, draws.amounts
    else:
        raise ValueError(f"unknown distribution {distribution!r}, expected one of {', '.join(DISTRIBUTIONS)}")
    newline = "\r\n" if seed % 2 else "\n"
    with _open_text(path) as out:
        out.write("\t".join(HEADER) + newline)
        batch = []
        for _ in range(lines):
            dsp_id, title, artists, isrc = pick(rng)
            flaw = rng.random()
            usages, revenue = amounts(rng)
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


@contextlib.contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    """`path` written as UTF-8 text with the line ends given, gzipped when it ends in .gz, with no
    name nor time in the gzip header: the same seed gives the same bytes."""
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "wb"))
        if path.suffix == ".gz":
            raw = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6))
        yield stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8", newline=""))


def generate_samples(directory: Path) -> list[Path]:
    paths = []
    for name, seed in SAMPLES.items():
        paths.append(directory / name)
        generate_dsr(directory / name, lines=SAMPLE_LINES, seed=seed)
    return paths


# DDEX DSRF files (Basic Audio profile 1.3): the currency of each territory a generated file reports.
DSRF_CURRENCIES = {"ES": "EUR", "FR": "EUR", "DE": "EUR", "GB": "GBP", "NO": "NOK", "CH": "CHF", "US": "USD"}
# A multi-territory file (no territory in its name) reports these.
DSRF_MULTI_TERRITORY = ("ES", "FR", "GB")
# The names of the DDEX party IDs of the generator's examples (the docs' examples, the bench's), so that a
# generated file's DSP is the one of the generated TSV files: the same resources, the same DSP.
DSRF_PARTY_NAMES = {"PADPIDA2011021501G": "Spotify", "PADPIDA2007040502I": "SGAE"}
# (SummaryRecordId suffix, CommercialModel, share of the resources sold under it, revenue per stream)
DSRF_MODELS = (("SUB", "SubscriptionModel", 1.0, "0.0035"), ("ADS", "AdvertisementSupportedModel", 0.5, "0.0008"))


def generate_dsrf(path: Path, *, sales: int, seed: int) -> None:
    """Write a DDEX DSRF file (Basic Audio profile 1.3) of `sales` sales records to `path`, named by
    the DSRF convention (dsrs.formats.filenames.DSRF_FILE_NAME), which gives its sender, recipient,
    service, period and territory (several when the name has none); gzipped when it ends in .gz.

    Blocks of one release, its resources (from the Zipf catalogue of generate_dsr) and their sales
    under a subscription and an ad-supported summary record per territory, whose Usages and
    NetRevenue add up the sales: written in two passes of the same random draws, since the summary
    records come first. CRLF line ends for odd seeds.
    """
    name = parse_dsrf_file_name(path)
    territories = (name.territory,) if name.territory else DSRF_MULTI_TERRITORY
    usages: dict[str, int] = {}
    lines = blocks = 0
    for records, sold in _dsrf_blocks(sales, seed, territories):
        lines += len(records)
        blocks += 1
        for summary_id, streams in sold:
            usages[summary_id] = usages.get(summary_id, 0) + streams
    summaries = []
    for territory in territories:
        for suffix, model, _share, per_stream in DSRF_MODELS:
            summary_id = f"{territory}-{suffix}"
            streams = usages.get(summary_id, 0)
            revenue = Decimal(per_stream) * streams
            summaries.append(
                f"SY02.03\t{summary_id}\tStreaming\t\t{model}\tOnDemandStream\t{territory}\t\t{streams}"
                f"\t{streams // 40}"
                f"\t{DSRF_CURRENCIES[territory]}\t{revenue:f}"
            )
    head = (
        f"HEAD\tdsrf/1.3\tBasicAudioProfile\t1.3\tMSG-{seed}\t{name.period_end}T00:00:00\t1\t1"
        f"\t{name.period_start}\t{name.period_end}\t{name.sender}\t{_party_name(name.sender)}\t{name.service}"
        f"\t{name.recipient}\t{_party_name(name.recipient)}"
    )
    comment = f"# generated by generate_dsr, seed {seed}"
    lines += 3 + len(summaries)  # HEAD, the comment, the summaries and FOOT
    foot = f"FOOT\t{lines}\t{lines}\t{len(summaries)}\t{blocks}\t{blocks}"
    newline = "\r\n" if seed % 2 else "\n"
    with _open_text(path) as out:
        out.write(newline.join([head, comment, *summaries]) + newline)
        batch = []
        for records, _sold in _dsrf_blocks(sales, seed, territories):
            batch.extend(records)
            if len(batch) >= 10_000:
                out.write(newline.join(batch) + newline)
                batch.clear()
        batch.append(foot)
        out.write(newline.join(batch) + newline)


def _party_name(party_id: str) -> str:
    return DSRF_PARTY_NAMES.get(party_id, party_id)


def _dsrf_blocks(
    sales: int, seed: int, territories: tuple[str, ...]
) -> Iterator[tuple[list[str], list[tuple[str, int]]]]:
    """The blocks' records and, per block, its sales as (SummaryRecordId, usages): the same for
    the same arguments."""
    rng = random.Random(seed)
    pick = _zipf_picker(sales)
    written = 0
    block = 0
    while written < sales:
        block += 1
        records = [
            f"RE01.02\tB{block}\tR1\tREL{block}\t\t\t{rng.randrange(10**12, 10**13)}\tVarious Artists\t\tAlbum {block}"
        ]
        sold = []
        for track in range(1, rng.randint(1, 12) + 1):
            if written >= sales:
                break
            dsp_id, title, artists, isrc = pick(rng)
            records.append(f"AS02.02\tB{block}\tA{track}\t{dsp_id}\t{isrc}\t{title}\t\t{artists}")
            territory = rng.choice(territories)
            for suffix, _model, share, _per_stream in DSRF_MODELS:
                if written >= sales or rng.random() >= share:
                    continue
                streams = int(rng.lognormvariate(4.5, 0.5))
                summary_id = f"{territory}-{suffix}"
                records.append(f"SU02.01\tB{block}\t{summary_id}\tT{written}\tR1\tA{track}\t\t{streams}")
                sold.append((summary_id, streams))
                written += 1
        yield records, sold
