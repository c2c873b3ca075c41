"""frontend: the page a person opens; calls orders through ORDERS_URL."""
import html
import os

from meshlib import call, serve


def index(request, rest):
    status, order = call(os.environ["ORDERS_URL"], "/orders/1", request.headers)
    if status != 200:
        return 502, "<h1>shop</h1><p>orders answered %d</p>" % status
    return 200, (
        "<!doctype html><title>shop</title><h1>shop</h1>"
        "<p>Order %d: %s bought a %s (%d left in stock).</p>"
        % (order["id"], html.escape(order["user"]["name"]), html.escape(order["item"]["sku"]), order["item"]["in_stock"])
    )


def api(request, rest):
    return call(os.environ["ORDERS_URL"], "/orders/" + (rest or "1"), request.headers)


serve({"/api/orders": api, "/": index})
