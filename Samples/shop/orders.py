"""orders: joins a user and an item; calls users and inventory through their *_URL variables, and
the external payments API through PAYMENTS_URL (its ambassador adds the API key and TLS)."""
import os

from meshlib import call, serve

ORDERS = {"1": {"user": "42", "sku": "book"}, "2": {"user": "1", "sku": "mug"}}


def get_order(request, rest):
    order = ORDERS.get(rest)
    if order is None:
        return 404, {"error": "no order " + rest}
    user_status, user = call(os.environ["USERS_URL"], "/users/" + order["user"], request.headers)
    item_status, item = call(os.environ["INVENTORY_URL"], "/items/" + order["sku"], request.headers)
    if user_status != 200 or item_status != 200:
        return 502, {"error": "an upstream failed", "users": user_status, "inventory": item_status}
    return 200, {"id": int(rest), "user": user, "item": item}


def get_payment(request, rest):
    status, charge = call(os.environ["PAYMENTS_URL"], "/charges/" + rest, request.headers)
    if status != 200:
        return 502, {"error": "payments answered %d" % status, "payments": charge}
    return 200, {"order": int(rest) if rest.isdigit() else rest, "charge": charge}


serve({"/orders": get_order, "/payments": get_payment})
