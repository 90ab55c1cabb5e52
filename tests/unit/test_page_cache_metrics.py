"""Page cache lookups are counted by the kind of entry their key names."""

from prometheus_client import REGISTRY

from shop.web.extensions import count_lookup


def lookups(kind: str, result: str) -> float:
    return REGISTRY.get_sample_value("shop_page_cache_lookups_total", {"kind": kind, "result": result}) or 0.0


def test_a_lookup_counts_as_a_hit_or_a_miss_of_its_kind():
    before = lookups("catalog-page", "hit"), lookups("catalog-page", "miss"), lookups("shared-page", "hit")
    count_lookup("catalog-page:3f2a", True)
    count_lookup("catalog-page:77b0", False)
    count_lookup("catalog-page:77b0", False)
    count_lookup("shared-page:aa", True)
    assert (lookups("catalog-page", "hit"), lookups("catalog-page", "miss"), lookups("shared-page", "hit")) == \
        (before[0] + 1, before[1] + 2, before[2] + 1)
