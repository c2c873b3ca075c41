"""inventory: what is in stock. Its answers may be cached for 30 s (the gateway caches the catalogue)."""
from meshlib import serve

STOCK = {"book": 12, "mug": 0, "shirt": 5}
CACHEABLE = {"Cache-Control": "public, max-age=30"}


def get_item(request, rest):
    if rest == "":
        catalogue = [{"sku": sku, "in_stock": n, "description": "the shop's %s, in stock: %d" % (sku, n)} for sku, n in STOCK.items()]
        return 200, {"items": catalogue}, CACHEABLE
    if rest not in STOCK:
        return 404, {"error": "no item " + rest}
    return 200, {"sku": rest, "in_stock": STOCK[rest]}, CACHEABLE


serve({"/items": get_item})
