#!/usr/bin/env python3
"""Bookinfo's ratings service: the stars each reviewer gave, as JSON.

GET /ratings/<id> -> {"id": <id>, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}; GET /health.
SERVICE_VERSION=v-faulty answers every ratings request 503 (Istio's ratings has a v-faulty that
fails half of them at random; always failing keeps the outlier-detection test deterministic).
Listens on --listen (default 0.0.0.0:9080).
"""
import os

from bookinfo_http import Handler, instance_name, serve

VERSION = os.environ.get("SERVICE_VERSION", "v1")
RATINGS = {"Reviewer1": 5, "Reviewer2": 4}


class RatingsHandler(Handler):
    service = "ratings"

    def route(self, method, path):
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "ratings":
            served_by = {"x-served-by": instance_name(self.service)}
            if VERSION == "v-faulty":
                self.send_json(503, {"error": "ratings %s fails on purpose" % VERSION}, served_by)
                return
            try:
                book_id = int(parts[1])
            except ValueError:
                self.send_json(400, {"error": "please provide numeric product ID"})
                return
            self.send_json(200, {"id": book_id, "ratings": RATINGS}, served_by)
            return
        super().route(method, path)


if __name__ == "__main__":
    serve(RatingsHandler, __doc__)
