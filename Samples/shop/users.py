"""users: who the customers are."""
from meshlib import serve

USERS = {"1": {"id": 1, "name": "Ada"}, "2": {"id": 2, "name": "Linus"}, "42": {"id": 42, "name": "Grace"}}


def get_user(request, rest):
    user = USERS.get(rest)
    return (200, user) if user else (404, {"error": "no user " + rest})


serve({"/users": get_user})
