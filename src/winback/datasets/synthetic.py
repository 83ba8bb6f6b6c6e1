"""Deterministic synthetic event logs in the REES46 layout.

Shoppers differ in how often they visit, how likely they are to buy, which categories they
prefer, and how long they stay before churning. Sessions have an intent (browse, consider,
buy; buying more likely in the evening) and move between view, cart, remove and purchase as a
Markov chain of that intent, with repeat views and abandoned carts; session starts follow an
evening-heavy time of day. The same seed always gives the
same file. Generation is vectorised per chunk of users and streamed to Parquet, so 20 M+ rows
take well under a minute and bounded memory.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

EVENT_TYPES = np.array(["view", "cart", "remove_from_cart", "purchase"])
CATEGORIES = np.array([
    "cosmetics.lipstick", "cosmetics.nail_polish", "cosmetics.mascara", "cosmetics.foundation",
    "cosmetics.eyeshadow", "beauty.hair.shampoo", "beauty.hair.conditioner", "beauty.skin.cream",
    "beauty.skin.serum", "beauty.skin.cleanser", "accessories.brush", "accessories.sponge",
    "fragrance.perfume", "fragrance.deodorant", "body.soap", "body.lotion",
])
BRANDS = np.array([f"brand_{i:03d}" for i in range(120)])
# share of sessions starting in each UTC hour: quiet nights, evening peak
HOUR_WEIGHTS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 4, 4, 4, 4, 4, 4, 4.5, 5, 6,
                         7, 7.5, 6.5, 4.5, 2.5])
SCHEMA = pa.schema([
    ("event_time", pa.timestamp("us", tz="UTC")),
    ("event_type", pa.string()),
    ("product_id", pa.int64()),
    ("category_id", pa.int64()),
    ("category_code", pa.string()),
    ("brand", pa.string()),
    ("price", pa.float64()),
    ("user_id", pa.int64()),
    ("user_session", pa.string()),
])


@dataclass(frozen=True)
class Catalog:
    product_category: np.ndarray
    product_brand: np.ndarray
    product_price: np.ndarray

    @classmethod
    def make(cls, rng: np.random.Generator, n_products: int) -> "Catalog":
        category = rng.integers(0, len(CATEGORIES), n_products)
        brand = rng.zipf(1.6, n_products) % len(BRANDS)
        price = np.round(np.exp(rng.normal(2.3, 0.8, n_products)) + 0.5, 2)
        return cls(category, brand, price)


# next event type by intent and last event type; columns: view, cart, remove, purchase, end
NEXT = {
    "browse": np.array([[0.71, 0.03, 0.01, 0.00, 0.25],
                        [0.60, 0.05, 0.10, 0.00, 0.25],
                        [0.60, 0.05, 0.05, 0.00, 0.30],
                        [0.10, 0.00, 0.00, 0.00, 0.90]]),
    "consider": np.array([[0.50, 0.25, 0.05, 0.00, 0.20],
                          [0.45, 0.15, 0.15, 0.00, 0.25],
                          [0.50, 0.10, 0.05, 0.00, 0.35],
                          [0.10, 0.00, 0.00, 0.00, 0.90]]),
    "buy": np.array([[0.45, 0.35, 0.05, 0.00, 0.15],
                     [0.25, 0.15, 0.08, 0.45, 0.07],
                     [0.40, 0.30, 0.02, 0.10, 0.18],
                     [0.15, 0.05, 0.00, 0.10, 0.70]]),
}
INTENTS = ("browse", "consider", "buy")
MEAN_GAP_SECONDS = np.array([40.0, 25.0, 20.0, 90.0])  # before a view, cart, removal, purchase
MAX_SESSION_EVENTS = 60
REPEAT_VIEW = 0.25


def _sessions(rng, catalog: Catalog, s_user, cart_p, buy_p, favourite, evening):
    """Events of each session, simulated step by step for all sessions at once.

    Each session has an intent (browse, consider, buy) drawn from the shopper's propensities,
    more often "buy" in the evening; the next event depends on the intent and the last event
    (a Markov chain over view, cart, remove, purchase, end). Removals and purchases need
    something in the cart; a view repeats the previous product a quarter of the time; carts,
    removals and purchases are of the last product viewed. Returns (session index, event type,
    product, seconds since the previous event), ordered by session and step.
    """
    n_s = len(s_user)
    u = rng.uniform(0, 1, n_s)
    p_buy = np.clip(buy_p[s_user] * 0.7 * np.where(evening, 1.5, 0.8), 0, 0.9)
    p_consider = np.clip(cart_p[s_user] * 2.5, 0, 0.95 - p_buy)
    intent = np.where(u < p_buy, 2, np.where(u < p_buy + p_consider, 1, 0))
    tables = np.stack([NEXT[name] for name in INTENTS])  # intent x last type x next
    n_cat = len(CATEGORIES)
    per_cat = len(catalog.product_price) // n_cat

    def new_product(rows):
        fav = rng.uniform(0, 1, len(rows)) < 0.7
        cat = np.where(fav, favourite[s_user[rows]], rng.integers(0, n_cat, len(rows)))
        return rng.integers(0, per_cat, len(rows)) * n_cat + cat

    active = np.arange(n_s)
    last = np.zeros(n_s, dtype=np.int64)
    in_cart = np.zeros(n_s, dtype=np.int64)
    current = new_product(active)
    out_s, out_t, out_p = [active.copy()], [np.zeros(n_s, dtype=np.int64)], [current.copy()]
    for _ in range(MAX_SESSION_EVENTS - 1):
        probs = tables[intent[active], last[active]].copy()
        empty = in_cart[active] == 0
        probs[empty, 0] += probs[empty, 2] + probs[empty, 3]  # nothing to remove or buy: look on
        probs[empty, 2] = probs[empty, 3] = 0
        cum = probs.cumsum(axis=1)
        nxt = (rng.uniform(0, 1, len(active))[:, None] > cum).sum(axis=1)
        keep = nxt < 4
        active, nxt = active[keep], nxt[keep]
        if not len(active):
            break
        views = nxt == 0
        fresh = views & (rng.uniform(0, 1, len(active)) >= REPEAT_VIEW)
        current[active[fresh]] = new_product(active[fresh])
        in_cart[active] += (nxt == 1).astype(np.int64) - (nxt >= 2).astype(np.int64)
        last[active] = nxt
        out_s.append(active.copy())
        out_t.append(nxt)
        out_p.append(current[active])
    sess = np.concatenate(out_s)
    step = np.concatenate([np.full(len(a), i) for i, a in enumerate(out_s)])
    order = np.lexsort((step, sess))
    etype = np.concatenate(out_t)[order]
    gap = rng.exponential(MEAN_GAP_SECONDS[etype]).astype(np.int64) + 1
    return sess[order], etype, np.concatenate(out_p)[order], gap


# with attributes=True: each user's acquisition channel, which follows how long they stay
# (email subscribers stay, ad clicks leave: a mix of the lifetime's rank and noise), and a
# region that tells nothing, as columns beside the REES46 ones
CHANNELS = np.array(["email", "organic", "ads"])
REGIONS = np.array(["north", "south", "east", "west", "centre", "abroad"])
ATTRIBUTE_SCHEMA = pa.schema([*SCHEMA, ("channel", pa.string()), ("region", pa.string())])


def _attributes(attr_rng: np.random.Generator, lifetime: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """(channel, region) per user, from their own generator so the events are those of the
    same seed without attributes."""
    leaving = np.exp(-lifetime / (days * 0.5))  # uniform on (0, 1): 1 = leaves soonest
    mixed = 0.6 * leaving + 0.4 * attr_rng.random(len(lifetime))
    channel = CHANNELS[np.digitize(mixed, [0.35, 0.65])]
    return channel, REGIONS[attr_rng.integers(0, len(REGIONS), len(lifetime))]


def _chunk(rng: np.random.Generator, catalog: Catalog, first_user: int, n_users: int,
           start: np.datetime64, days: int, first_session: int,
           attr_rng: np.random.Generator | None = None) -> tuple[pa.Table, int]:
    """Events of users first_user .. first_user + n_users - 1 (with their channel and region
    when `attr_rng` is given)."""
    # users: join day, lifetime (churn), visit rate, funnel propensities, favourite category
    join = rng.uniform(0, days * 0.8, n_users)
    lifetime = rng.exponential(days * 0.5, n_users)
    active = np.clip(np.minimum(lifetime, days - join), 0.5, None)
    visit_rate = rng.gamma(0.7, 0.25, n_users)  # sessions per day while active
    cart_p = rng.beta(1.5, 6.0, n_users)
    buy_p = rng.beta(1.2, 3.0, n_users)
    favourite = rng.integers(0, len(CATEGORIES), n_users)
    n_sessions = 1 + rng.poisson(visit_rate * active)

    s_user = np.repeat(np.arange(n_users), n_sessions)
    n_s = len(s_user)
    day = join[s_user] + rng.uniform(0, 1, n_s) * active[s_user]
    hour = rng.choice(24, n_s, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    s_start = (np.floor(day) * 86400 + hour * 3600 + rng.uniform(0, 3600, n_s)).astype(np.int64)
    evening = (hour >= 18) & (hour <= 23)
    e_sess, etype, product, gap = _sessions(rng, catalog, s_user, cart_p, buy_p, favourite, evening)
    e_user = s_user[e_sess]
    first = np.r_[True, e_sess[1:] != e_sess[:-1]]
    gap[first] = 0
    csum = np.cumsum(gap)
    seconds = s_start[e_sess] + csum - np.maximum.accumulate(np.where(first, csum, 0))
    event_time = start + seconds.astype("timedelta64[s]")
    order = np.lexsort((seconds, e_user))
    cat = product % len(CATEGORIES)
    table = pa.table({
        "event_time": pa.array(event_time[order].astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
        "event_type": pa.array(EVENT_TYPES[etype[order]]),
        "product_id": pa.array(1000000 + product[order]),
        "category_id": pa.array(2000 + cat[order]),
        "category_code": pa.array(CATEGORIES[cat[order]]),
        "brand": pa.array(BRANDS[catalog.product_brand[product[order]]]),
        "price": pa.array(catalog.product_price[product[order]]),
        "user_id": pa.array(first_user + e_user[order]),
        "user_session": pa.array((first_session + e_sess[order]).astype(np.int64)).cast(pa.string()),
    }, schema=SCHEMA)
    if attr_rng is not None:
        channel, region = _attributes(attr_rng, lifetime, days)
        table = table.append_column("channel", pa.array(channel[e_user[order]])) \
                     .append_column("region", pa.array(region[e_user[order]]))
    return table, first_session + n_s


def generate_rees46(path: str | Path, rows: int = 1_000_000, *, seed: int = 7,
                    start: str = "2019-10-01", days: int = 150,
                    users_per_chunk: int = 50_000, progress=None, first_user: int = 1,
                    first_session: int = 1, attributes: bool = False) -> Path:
    """Write a synthetic REES46-layout log of about `rows` events to a Parquet file.

    `attributes` adds each user's acquisition `channel` (which follows how long they stay) and
    `region` (which tells nothing), for `features.attributes`; the events are the same.

    The file is written to a temporary name and renamed when complete, so an interrupted run
    never leaves a truncated file. `progress(done_rows)` is called after each chunk. Files meant
    to be read together (parts of one large log) take disjoint `first_user` / `first_session`
    ranges and different seeds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    attr_rng = np.random.default_rng([seed, 1]) if attributes else None
    catalog = Catalog.make(rng, 48_000)
    begin = np.datetime64(dt.datetime.fromisoformat(start), "s")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    written, next_user, next_session = 0, first_user, first_session
    try:
        with pq.ParquetWriter(tmp, ATTRIBUTE_SCHEMA if attributes else SCHEMA, compression="zstd") as writer:
            while written < rows:
                table, next_session = _chunk(rng, catalog, next_user, users_per_chunk, begin, days,
                                             next_session, attr_rng)
                if written + table.num_rows > rows:  # end on whole users for a clean log
                    users = table.column("user_id").to_numpy()
                    keep = np.searchsorted(users, users[rows - written - 1], side="right")
                    table = table.slice(0, keep)
                writer.write_table(table, row_group_size=1_000_000)
                written += table.num_rows
                next_user += users_per_chunk
                if progress:
                    progress(written)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
