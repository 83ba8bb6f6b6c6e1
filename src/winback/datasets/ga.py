"""A deterministic synthetic Google Analytics 360 session export (seed 000's input), flattened
as BigQuery exports it to files: one row per visit, nested fields as dotted column names.

Visitors arrive over the period, visit at their own rate (gamma-distributed across visitors)
until they lapse (a geometric number of visits), and buy on a visit with their own probability
(beta-distributed); revenue is in micros, as GA stores it. Device, geography and traffic source
are drawn per visitor, the channel per visit.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([
    ("fullVisitorId", pa.string()), ("visitId", pa.int64()), ("visitNumber", pa.int64()),
    ("visitStartTime", pa.int64()), ("date", pa.string()),
    ("totals.visits", pa.int64()), ("totals.hits", pa.int64()), ("totals.pageviews", pa.int64()),
    ("totals.timeOnSite", pa.int64()), ("totals.bounces", pa.int64()),
    ("totals.newVisits", pa.int64()), ("totals.transactions", pa.int64()),
    ("totals.transactionRevenue", pa.int64()),
    ("device.browser", pa.string()), ("device.operatingSystem", pa.string()),
    ("device.isMobile", pa.bool_()), ("device.deviceCategory", pa.string()),
    ("geoNetwork.continent", pa.string()), ("geoNetwork.country", pa.string()),
    ("trafficSource.source", pa.string()), ("trafficSource.medium", pa.string()),
    ("channelGrouping", pa.string()),
])
DEVICES = np.array(["desktop", "mobile", "tablet"])
BROWSERS = np.array(["Chrome", "Safari", "Firefox", "Edge", "Samsung Internet"])
SYSTEMS = {"desktop": ["Windows", "Macintosh", "Linux"], "mobile": ["Android", "iOS"],
           "tablet": ["iOS", "Android"]}
COUNTRIES = np.array(["United States", "India", "United Kingdom", "Canada", "Germany", "Japan",
                      "France", "Brazil"])
CONTINENT = {"United States": "Americas", "Canada": "Americas", "Brazil": "Americas",
             "India": "Asia", "Japan": "Asia", "United Kingdom": "Europe", "Germany": "Europe",
             "France": "Europe"}
SOURCES = np.array(["google", "(direct)", "youtube.com", "facebook.com", "newsletter", "bing"])
MEDIUM = {"google": "organic", "(direct)": "(none)", "youtube.com": "referral",
          "facebook.com": "social", "newsletter": "email", "bing": "organic"}
CHANNEL = {"organic": "Organic Search", "(none)": "Direct", "referral": "Referral",
           "social": "Social", "email": "Email", "cpc": "Paid Search"}


def _visitors(rng: np.random.Generator, first: int, n: int, span_s: int, begin: int):
    rate = rng.gamma(0.7, 1 / 0.7, n) / (14 * 86400)  # visits per second; mean one per 2 weeks
    visits = 1 + rng.geometric(rng.beta(1.2, 6.0, n))  # lapse after a geometric number
    arrival = begin + (rng.random(n) ** 1.3 * span_s).astype(np.int64)
    buy = rng.beta(0.6, 9.0, n)
    ids = np.char.add("v", np.char.zfill((first + np.arange(n)).astype(str), 12))
    return ids, rate, np.minimum(visits, 200), arrival, buy


def _chunk(rng, first: int, n: int, begin: int, span_s: int, next_visit: int) -> tuple[pa.Table, int]:
    ids, rate, visits, arrival, buy = _visitors(rng, first, n, span_s, begin)
    owner = np.repeat(np.arange(n), visits)
    number = np.concatenate([np.arange(1, v + 1) for v in visits])
    gaps = rng.exponential(1.0, len(owner)) / rate[owner]
    gaps[number == 1] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[np.cumsum(visits) - visits], visits)  # from each visitor's first
    start = arrival[owner] + elapsed.astype(np.int64)
    keep = start < begin + span_s
    owner, number, start = owner[keep], number[keep], start[keep]
    m = len(owner)
    bought = rng.random(m) < buy[owner]
    bounce = ~bought & (rng.random(m) < 0.45)
    pageviews = np.where(bounce, 1, 2 + rng.poisson(4 + 6 * bought, m))
    hits = pageviews + rng.poisson(2 + 8 * bought, m)
    on_site = np.where(bounce, 0, (pageviews * rng.gamma(2.0, 30.0, m)).astype(np.int64))
    orders = np.where(bought, 1 + (rng.random(m) < 0.08), 0)
    revenue = np.where(bought, np.round(rng.lognormal(3.6, 0.8, m), 2) * orders * 1_000_000, 0).astype(np.int64)
    device = DEVICES[rng.choice(3, n, p=[0.55, 0.38, 0.07])]
    system = np.array([SYSTEMS[d][i % len(SYSTEMS[d])] for i, d in enumerate(device)])
    country = COUNTRIES[rng.choice(len(COUNTRIES), n, p=[0.4, 0.15, 0.1, 0.08, 0.08, 0.07, 0.07, 0.05])]
    source = SOURCES[rng.choice(len(SOURCES), m, p=[0.45, 0.25, 0.1, 0.08, 0.07, 0.05])]
    medium = np.array([MEDIUM[s] for s in source])
    dates = (np.datetime64("1970-01-01") + (start // 86400).astype("timedelta64[D]")).astype(str)
    table = pa.table({
        "fullVisitorId": ids[owner], "visitId": next_visit + np.arange(m, dtype=np.int64),
        "visitNumber": number.astype(np.int64), "visitStartTime": start,
        "date": np.char.replace(dates, "-", ""),
        "totals.visits": np.ones(m, dtype=np.int64), "totals.hits": hits.astype(np.int64),
        "totals.pageviews": pageviews.astype(np.int64), "totals.timeOnSite": on_site,
        "totals.bounces": bounce.astype(np.int64), "totals.newVisits": (number == 1).astype(np.int64),
        # GA stores nulls, not zeros, for visits without a transaction
        "totals.transactions": pa.array(orders.astype(np.int64), mask=~bought),
        "totals.transactionRevenue": pa.array(revenue, mask=~bought),
        "device.browser": BROWSERS[rng.choice(len(BROWSERS), n)][owner],
        "device.operatingSystem": system[owner], "device.isMobile": device[owner] != "desktop",
        "device.deviceCategory": device[owner],
        "geoNetwork.continent": np.array([CONTINENT[c] for c in country])[owner],
        "geoNetwork.country": country[owner], "trafficSource.source": source,
        "trafficSource.medium": medium, "channelGrouping": np.array([CHANNEL[x] for x in medium]),
    }, schema=SCHEMA)
    order = np.lexsort((start, owner))
    return table.take(pa.array(order)), next_visit + m


def generate_ga_sessions(path: str | Path, visitors: int = 20_000, *, seed: int = 3,
                         start: str = "2016-08-01", days: int = 395,
                         visitors_per_chunk: int = 50_000) -> Path:
    """Write a synthetic GA 360 session export (13 months by default) to a Parquet file,
    atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    begin = int(dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc).timestamp())
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, SCHEMA, compression="zstd") as writer:
            done, next_visit = 0, 1_470_000_000
            while done < visitors:
                n = min(visitors_per_chunk, visitors - done)
                table, next_visit = _chunk(rng, done + 1, n, begin, days * 86400, next_visit)
                writer.write_table(table)
                done += n
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
