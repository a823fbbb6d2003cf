"""The app's URLs plus one reference view the ingress benchmark measures the receiver against.

``bench/store-floor/`` stores the raw body in one INSERT and answers 200: no lookup, no
verification, no parsing, no encryption. It is the least any receiver that writes to PostgreSQL
before answering can do, so its rate bounds what the webhook receiver can reach on the machine.
"""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns

FLOOR_TABLE = "bench_store_floor"
FLOOR_INSERT = f"INSERT INTO {FLOOR_TABLE} (body) VALUES (%s)"  # noqa: S608 (a constant table name)


def create_floor_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, body text NOT NULL)"
        )


@csrf_exempt
def store_floor(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_INSERT, [request.body.decode("utf-8", "replace")])
    return HttpResponse(status=200)


urlpatterns = [*app_urlpatterns, path("bench/store-floor/", store_floor)]
