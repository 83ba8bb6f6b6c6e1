"""Deterministic synthetic event logs in the REES46 layout.

Shoppers differ in how often they visit, how likely they are to buy, which categories they
prefer, and how long they stay before churning; sessions follow a view -> cart ->
(remove) -> purchase funnel with an evening-heavy time of day. The same seed always gives the
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


def _chunk(rng: np.random.Generator, catalog: Catalog, first_user: int, n_users: int,
           start: np.datetime64, days: int, first_session: int) -> tuple[pa.Table, int]:
    """Events of users first_user .. first_user + n_users - 1."""
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
    views = 1 + rng.geometric(0.3, n_s)
    carts = rng.binomial(views, cart_p[s_user])
    removes = rng.binomial(carts, 0.25)
    kept = carts - removes
    bought = (kept > 0) & (rng.uniform(0, 1, n_s) < buy_p[s_user])
    purchases = np.where(bought, kept, 0)
    n_ev = views + carts + removes + purchases

    e_sess = np.repeat(np.arange(n_s), n_ev)
    offsets = np.cumsum(n_ev) - n_ev
    k = np.arange(len(e_sess)) - offsets[e_sess]  # position within the session
    v, c, r = views[e_sess], carts[e_sess], removes[e_sess]
    etype = np.where(k < v, 0, np.where(k < v + c, 1, np.where(k < v + c + r, 2, 3)))
    # carts, removals and purchases refer back to products viewed in the same session
    view_idx = np.where(etype == 0, k, np.where(etype == 1, k - v, np.where(etype == 2, k - v - c,
                                                                           k - v - c - r + 0)) % v)
    # one product draw per view; the session's later events reuse them
    n_views_total = int(views.sum())
    view_offsets = np.cumsum(views) - views
    e_user = s_user[e_sess]
    in_fav = rng.uniform(0, 1, n_views_total) < 0.7
    n_products = len(catalog.product_price)
    fav_of_view = favourite[np.repeat(s_user, views)]
    # products are sorted into category blocks by id modulo the number of categories
    cat_of_view = np.where(in_fav, fav_of_view, rng.integers(0, len(CATEGORIES), n_views_total))
    draw = rng.integers(0, n_products // len(CATEGORIES), n_views_total)
    view_product = draw * len(CATEGORIES) + cat_of_view
    product = view_product[view_offsets[e_sess] + view_idx]
    gaps = rng.exponential(45.0, len(e_sess)).astype(np.int64) + 1
    gaps[offsets] = 0
    csum = np.cumsum(gaps)
    within = csum - csum[offsets][e_sess]
    seconds = s_start[e_sess] + within
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
    return table, first_session + n_s


def generate_rees46(path: str | Path, rows: int = 1_000_000, *, seed: int = 7,
                    start: str = "2019-10-01", days: int = 150,
                    users_per_chunk: int = 50_000, progress=None) -> Path:
    """Write a synthetic REES46-layout log of about `rows` events to a Parquet file.

    The file is written to a temporary name and renamed when complete, so an interrupted run
    never leaves a truncated file. `progress(done_rows)` is called after each chunk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    catalog = Catalog.make(rng, 48_000)
    begin = np.datetime64(dt.datetime.fromisoformat(start), "s")
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    written, next_user, next_session = 0, 1, 1
    try:
        with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            while written < rows:
                table, next_session = _chunk(rng, catalog, next_user, users_per_chunk, begin, days,
                                             next_session)
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
