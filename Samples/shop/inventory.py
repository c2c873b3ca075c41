"""inventory: what is in stock."""
from meshlib import serve

STOCK = {"book": 12, "mug": 0, "shirt": 5}


def get_item(request, rest):
    if rest not in STOCK:
        return 404, {"error": "no item " + rest}
    return 200, {"sku": rest, "in_stock": STOCK[rest]}


serve({"/items": get_item})
