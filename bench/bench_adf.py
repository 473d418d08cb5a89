"""ADF: documents per second through `parse_adf` vs a bare `defusedxml` parse of the same bytes.

The corpus is ../shared/corpus/adf/*.xml without the entity-attack file (it is refused, not
parsed). Files a strict XML parser refuses as they are (an ADF PI or XML declaration placed
after other content) are given to the baseline after the minimal prolog fix (those PIs dropped),
and to `parse_adf` as they are, since mending them is part of its job. Without ../shared, a few
built-in sample documents are used instead.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from defusedxml.ElementTree import ParseError, fromstring

from dealer_leads.leads.adf import parse_adf

TARGET_RATIO = 0.3
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "adf"
ATTACK_FILES = ("idknerdyshit-adf-fuzz-security-entities.xml",)
_PROLOG_PIS = re.compile(rb"\A(?:\s+|<\?.*?\?>)+", re.DOTALL)

SAMPLES = {
    "sample-minimal.xml": b"""<?xml version="1.0"?>
<?adf version="1.0"?>
<adf><prospect>
  <requestdate>2026-11-20T09:15:00-05:00</requestdate>
  <vehicle interest="buy" status="new"><year>2026</year><make>Toyota</make><model>RAV4</model>
  </vehicle>
  <customer><contact><name part="full">Sam Ortiz</name><email>sam@example.com</email>
  <phone type="cellphone">416-234-5678</phone></contact></customer>
  <vendor><vendorname>Maple Ridge Motors</vendorname></vendor>
</prospect></adf>
""",
    "sample-full.xml": b"""<?xml version="1.0" encoding="UTF-8"?>
<?adf version="1.0"?>
<adf><prospect status="new">
  <id sequence="1" source="Autotrader">AT-778812</id>
  <requestdate>2026-11-21T18:02:11Z</requestdate>
  <vehicle interest="buy" status="used"><id source="dealer">U1234</id><year>2021</year>
    <make>Honda</make><model>CR-V</model><trim>EX-L</trim><vin>2HKRW2H85MH000000</vin>
    <stock>U1234</stock><odometer status="original" units="km">48210</odometer>
    <colorcombination><interiorcolor>Black</interiorcolor><exteriorcolor>Blue</exteriorcolor>
    <preference>1</preference></colorcombination>
    <price type="asking" currency="CAD">31995</price></vehicle>
  <vehicle interest="trade-in" status="used"><year>2015</year><make>Mazda</make>
    <model>3</model><odometer units="km">161000</odometer></vehicle>
  <customer><contact primarycontact="1"><name part="first">Priya</name>
    <name part="last">Natarajan</name><email preferredcontact="1">priya@example.com</email>
    <phone type="voice" time="evening">(647) 555-0142</phone>
    <address type="home"><street line="1">12 Queen St W</street><city>Toronto</city>
    <regioncode>ON</regioncode><postalcode>M5H 2N2</postalcode><country>CA</country></address>
    </contact><timeframe><description>Within a week</description></timeframe>
    <comments>Can I book a test drive on Saturday?</comments></customer>
  <vendor><vendorname>Maple Ridge Motors</vendorname><contact><name part="full">Sales</name>
    <email>sales@example.com</email></contact></vendor>
  <provider><name part="full">Autotrader</name><service>Used car listing</service></provider>
</prospect></adf>
""",
    "sample-pi-first.xml": b"""<?ADF VERSION="1.0"?>

<?xml version="1.0"?>
<adf><prospect><requestdate>2026-11-22T10:00:00-05:00</requestdate>
  <customer><contact><name part="first">Lee</name><name part="last">Wong</name>
  <phone>613 555 0199</phone></contact></customer><vendor/></prospect></adf>
""",
}


def load_documents() -> tuple[dict[str, bytes], str]:
    """The documents to parse, and where they came from."""
    files = sorted(p for p in CORPUS.glob("*.xml") if p.name not in ATTACK_FILES)
    if files:
        return {p.name: p.read_bytes() for p in files}, f"../shared/corpus/adf ({len(files)})"
    return dict(SAMPLES), f"built-in samples ({len(SAMPLES)}; ../shared is missing)"


def baseline_bytes(documents: dict[str, bytes]) -> tuple[dict[str, bytes], list[str], list[str]]:
    """Each document as the baseline parses it: as is, or after the minimal prolog fix.

    Returns the baseline's bytes, the names that needed the fix, and names excluded from both
    sides because even the fix does not make them parse.
    """
    ready, fixed, excluded = {}, [], []
    for name, data in documents.items():
        for attempt, candidate in enumerate((data, _PROLOG_PIS.sub(b"", data, count=1))):
            try:
                fromstring(candidate)
            except ParseError:
                continue
            ready[name] = candidate
            if attempt:
                fixed.append(name)
            break
        else:
            excluded.append(name)
    return ready, fixed, excluded


def _rate(parse: Callable[[bytes], object], docs: list[bytes], seconds: float) -> float:
    """Documents per second over whole passes of `docs`, for about `seconds`."""
    passes, began = 0, time.perf_counter()
    while True:
        for doc in docs:
            parse(doc)
        passes += 1
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            return passes * len(docs) / elapsed


def run(*, seconds: float = 0.5, repeats: int = 7) -> dict:
    """Interleave the two sides `repeats` times; the figure is the ratio of the best rates.

    The best of several runs is the one least disturbed by other work on the machine (as
    `timeit` advises); the medians are kept in the results too.
    """
    documents, origin = load_documents()
    ready, fixed, excluded = baseline_bytes(documents)
    names = sorted(ready)
    ours = [documents[name] for name in names]
    theirs = [ready[name] for name in names]
    for doc in ours:  # every document must parse, or the comparison means nothing
        parse_adf(doc)
    _rate(parse_adf, ours, 0.2)  # warm-up
    _rate(fromstring, theirs, 0.2)
    rates: dict[str, list[float]] = {"baseline": [], "parse_adf": []}
    for _ in range(repeats):
        rates["baseline"].append(_rate(fromstring, theirs, seconds))
        rates["parse_adf"].append(_rate(parse_adf, ours, seconds))
    baseline, real = (max(rates[k]) for k in ("baseline", "parse_adf"))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    ratio = real / baseline
    return {
        "corpus": origin,
        "documents": len(names),
        "bytes_per_pass": sum(map(len, ours)),
        "excluded_attack_files": list(ATTACK_FILES),
        "baseline_after_prolog_fix": fixed,
        "excluded_unparseable": excluded,
        "seconds_per_measure": seconds,
        "repeats": repeats,
        "baseline_docs_per_s": round(baseline),
        "parse_adf_docs_per_s": round(real),
        "rates": {k: [round(v) for v in vs] for k, vs in rates.items()},
        "ratio": round(ratio, 3),
        "ratio_of_medians": round(medians["parse_adf"] / medians["baseline"], 3),
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO,
    }


def rows(figures: dict) -> list[tuple[str, str, str, str, str]]:
    verdict = "met" if figures["met"] else "MISSED"
    return [
        (
            "adf",
            f"docs/s ({figures['documents']} docs)",
            f"{figures['baseline_docs_per_s']:,}",
            f"{figures['parse_adf_docs_per_s']:,}",
            f"{figures['ratio']:.2f} (>= {TARGET_RATIO}) {verdict}",
        )
    ]
