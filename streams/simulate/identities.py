"""Synthetic identities: opaque ids, accounts, geography (country → time zone, ASN), IPs, user agents.

Every id is drawn from a seeded :class:`random.Random` and is opaque (``acct_<hex>``,
``org_<hex>``, ``key_<hex>``, ``pf_<hex>``): nothing in an id, a user agent or an org id
says whether the account is benign or an attacker. Times are epoch ms.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "BROWSER_UAS",
    "CLOUD_ASNS",
    "COUNTRIES",
    "PROXY_ASNS",
    "SDK_UAS",
    "UNIVERSITY_ASNS",
    "Account",
    "Country",
    "IdFactory",
    "IpSpace",
    "make_account",
    "pick_country",
    "pick_weighted",
    "reseller_network",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(slots=True)
class Account:
    """One API account as seen by the provider, plus its ground truth (never written to events).

    ``client_ip`` / ``user_agent`` are the account's usual values; a request may override the IP.
    ``created_ts`` is epoch ms. ``attack_from_ts`` (epoch ms) is when an account that was honest
    until then starts attacking (None: it attacks, or not, from its first request).
    """

    account_id: str
    org_id: str
    api_key_id: str
    created_ts: int
    tier: str
    country: str
    payment_fingerprint: str
    client_ip: str
    asn: int
    user_agent: str
    label: str
    scenario: str
    group: str
    attack_from_ts: int | None = None


@dataclass(frozen=True, slots=True)
class Country:
    """Billing country: UTC offsets (hours) its users live in, benign weight, prompt languages, ISP ASNs."""

    code: str
    tz_hours: tuple[float, ...]
    weight: float
    langs: tuple[tuple[str, float], ...]
    asns: tuple[int, ...]


_EN = (("en", 1.0),)
COUNTRIES: tuple[Country, ...] = (
    Country("US", (-8, -7, -6, -5, -5, -5), 30, _EN, (7922, 701, 20115, 7018, 22773, 209)),
    Country("CA", (-8, -5, -5), 3, _EN, (812, 577, 6327)),
    Country("GB", (0,), 6, _EN, (2856, 5089, 5607)),
    Country("DE", (1,), 5, (("en", 0.9), ("de", 0.1)), (3320, 3209, 6805)),
    Country("FR", (1,), 4, (("en", 0.85), ("fr", 0.15)), (3215, 12322, 5410)),
    Country("NL", (1,), 2, _EN, (1136, 33915)),
    Country("ES", (1,), 2, (("en", 0.8), ("es", 0.2)), (3352, 12479)),
    Country("PL", (1,), 2, (("en", 0.9), ("pl", 0.1)), (5617, 12741)),
    Country("IN", (5.5,), 6, _EN, (24560, 55836, 45609)),
    Country("BR", (-3,), 3, (("en", 0.8), ("pt", 0.2)), (28573, 18881, 26599)),
    Country("MX", (-6,), 1, (("en", 0.7), ("es", 0.3)), (8151, 13999)),
    Country("JP", (9,), 3, (("en", 0.7), ("ja", 0.3)), (4713, 2516, 17676)),
    Country("KR", (9,), 2, (("en", 0.7), ("ko", 0.3)), (4766, 9318)),
    Country("SG", (8,), 2, (("en", 0.8), ("zh", 0.2)), (9506, 7473)),
    Country("TW", (8,), 1, (("zh", 0.5), ("en", 0.5)), (3462, 4780)),
    Country("HK", (8,), 1, (("zh", 0.5), ("en", 0.5)), (4760, 9269)),
    Country("AU", (10,), 2, _EN, (1221, 4739)),
    Country("VN", (7,), 1, (("en", 0.7), ("vi", 0.3)), (7552, 45899)),
    Country("TR", (3,), 1, (("en", 0.7), ("tr", 0.3)), (9121, 47331)),
    Country("ID", (7,), 1, (("en", 0.8), ("id", 0.2)), (7713, 23693)),
    Country("KZ", (5,), 2, (("ru", 0.8), ("en", 0.2)), (9198, 21299)),
    Country("AM", (4,), 1, (("ru", 0.7), ("en", 0.3)), (12297, 44395)),
    Country("GE", (4,), 1, (("ru", 0.6), ("en", 0.4)), (16010, 35805)),
    Country("RS", (1,), 1, (("ru", 0.5), ("en", 0.5)), (8400, 31042)),
    Country("CY", (2,), 1, (("ru", 0.6), ("en", 0.4)), (6866, 35432)),
    Country("UA", (2,), 2, (("ru", 0.5), ("en", 0.5)), (15895, 3255)),
    Country("IL", (2,), 1, _EN, (1680, 8551)),
)
_BY_CODE = {c.code: c for c in COUNTRIES}

#: Public-cloud ASNs (AWS, Google, Microsoft, DigitalOcean, Hetzner, OVH, Vultr, Akamai, Alibaba, Tencent).
CLOUD_ASNS = (16509, 15169, 8075, 14061, 24940, 16276, 20473, 63949, 45102, 132203)
#: Hosting / proxy-network ASNs used by resellers and proxy networks.
PROXY_ASNS = (9009, 212238, 60068, 44477, 62240, 174, 51167, 206264)
#: Research-and-education network ASNs (one per campus).
UNIVERSITY_ASNS = (3, 32, 88, 786, 680, 2200, 7575, 2907, 25, 59)

SDK_UAS = (
    "anthropic-sdk-python/0.40.0",
    "anthropic-sdk-python/0.39.0",
    "anthropic-sdk-python/0.42.0",
    "anthropic-sdk-python/0.45.2",
    "anthropic-sdk-python/0.37.1",
    "anthropic-typescript/0.32.1",
    "anthropic-typescript/0.33.1",
    "anthropic-typescript/0.36.3",
    "openai-python/1.55.3",
    "openai-python/1.58.1",
    "openai-node/4.77.0",
    "python-httpx/0.27.2",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "curl/7.81.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.7.9",
    "litellm/1.55.8",
    "langchain-anthropic/0.3.1",
    "anthropic-sdk-java/0.8.0",
    "anthropic-sdk-go/0.2.0",
)
BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
)

# First octets of routable unicast space (no 0/8, 10/8, 100/8, 127/8, 169/8, 172/8, 192/8, 224+).
_FIRST_OCTETS = tuple(o for o in range(11, 224) if o not in (100, 127, 169, 172, 192, 198, 203))


def pick_weighted(
    rng: random.Random, pairs: tuple[tuple[str, float], ...] | list[tuple[str, float]]
) -> str:
    """Draw one key from ``(key, weight)`` pairs."""
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for key, w in pairs:
        x -= w
        if x < 0:
            return key
    return pairs[-1][0]


def pick_country(rng: random.Random, codes: tuple[str, ...] | None = None) -> Country:
    """Draw a billing country by benign weight, optionally restricted to ``codes``."""
    pool = COUNTRIES if codes is None else tuple(_BY_CODE[c] for c in codes)
    code = pick_weighted(rng, [(c.code, c.weight) for c in pool])
    return _BY_CODE[code]


class IdFactory:
    """Opaque ids from a seeded RNG: ``<prefix>_<2*nbytes hex>``."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self, prefix: str, nbytes: int = 6) -> str:
        """A fresh opaque id such as ``acct_3f9a0c71e2b4``."""
        return f"{prefix}_{self._rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


class IpSpace:
    """Deterministic IPv4 prefixes per ASN: each ASN owns a few /16s derived from ``seed`` and the ASN.

    The prefixes of an ASN depend only on (seed, asn), so populations never shift each other's IPs.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._cache: dict[int, tuple[tuple[int, int], ...]] = {}

    def prefixes(self, asn: int) -> tuple[tuple[int, int], ...]:
        """The /16 prefixes (first two octets) owned by ``asn``."""
        got = self._cache.get(asn)
        if got is None:
            r = random.Random(f"{self._seed}:asn:{asn}")
            got = tuple((r.choice(_FIRST_OCTETS), r.randrange(256)) for _ in range(4))
            self._cache[asn] = got
        return got

    def block24(self, asn: int, rng: random.Random) -> str:
        """A random /24 of ``asn`` as ``"a.b.c"``."""
        a, b = rng.choice(self.prefixes(asn))
        return f"{a}.{b}.{rng.randrange(256)}"

    def ip(self, asn: int, rng: random.Random) -> str:
        """A random host address of ``asn``."""
        return f"{self.block24(asn, rng)}.{rng.randrange(1, 255)}"

    @staticmethod
    def ip_in(block24: str, rng: random.Random) -> str:
        """A random host in the /24 ``block24`` (``"a.b.c"``)."""
        return f"{block24}.{rng.randrange(1, 255)}"


def make_account(
    ids: IdFactory,
    *,
    created_ts: int,
    tier: str,
    country: str,
    client_ip: str,
    asn: int,
    user_agent: str,
    label: str,
    scenario: str,
    group: str,
    org_id: str | None = None,
    payment_fingerprint: str | None = None,
    attack_from_ts: int | None = None,
) -> Account:
    """A new account with fresh opaque ``acct_``/``key_`` ids (and ``org_``/``pf_`` unless given)."""
    return Account(
        account_id=ids.new("acct"),
        org_id=org_id or ids.new("org", 5),
        api_key_id=ids.new("key", 8),
        created_ts=created_ts,
        tier=tier,
        country=country,
        payment_fingerprint=payment_fingerprint or ids.new("pf"),
        client_ip=client_ip,
        asn=asn,
        user_agent=user_agent,
        label=label,
        scenario=scenario,
        group=group,
        attack_from_ts=attack_from_ts,
    )


def reseller_network(seed: int, ips: IpSpace, index: int) -> tuple[tuple[int, str], ...]:
    """The proxy pool of reseller ``index``: ``(asn, /24 block)`` pairs from two proxy ASNs.

    Shared by the reseller's honest customers and the hydra network that rides on it.
    """
    r = random.Random(f"{seed}:reseller-net:{index}")
    asns = r.sample(PROXY_ASNS, 2)
    return tuple((asn, ips.block24(asn, r)) for asn in asns for _ in range(3))
