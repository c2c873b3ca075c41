"""orders: joins a user and an item; calls users and inventory through their *_URL variables."""
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


serve({"/orders": get_order})
