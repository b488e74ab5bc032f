#!/usr/bin/env python3
"""Bookinfo's reviews service, in three versions chosen by SERVICE_VERSION:

- v1: two reviews, no ratings (it never calls the ratings service);
- v2: the reviews with their stars from the ratings service, in black;
- v3: the same stars in red.

GET /reviews/<id> -> {"id", "version", "podname", "reviews": [{"reviewer", "text",
"rating"?: {"stars", "color"} or {"error": "Ratings service is currently unavailable"}}]}; the
answering version is also in the `x-reviews-version` header. GET /health.
RATINGS_URL (default http://ratings:9080) is where ratings lives; end-user and the tracing headers
of the inbound request are forwarded to it. Listens on --listen (default 0.0.0.0:9080).
"""
import os

from bookinfo_http import Handler, UpstreamError, forwarded_headers, get_json, instance_name, serve

VERSION = os.environ.get("SERVICE_VERSION", "v1")
RATINGS_URL = os.environ.get("RATINGS_URL", "http://ratings:9080").rstrip("/")
STAR_COLOR = {"v2": "black", "v3": "red"}.get(VERSION)
# How long reviews waits for ratings: 10 s in v2 and 2.5 s in v3, Istio's reviews' own values
# (its fault-injection task relies on them: a 7 s ratings delay is within v2's timeout, so the
# page's own 3 s timeout towards reviews is what fails first).
RATINGS_TIMEOUT_S = 2.5 if VERSION == "v3" else 10.0
RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"

REVIEWS = (
    ("Reviewer1", "A farce that never stops running: two pairs of twins, one city, and every "
                  "misunderstanding you can think of, all before supper."),
    ("Reviewer2", "Shorter than the other comedies and better for it; the mistaken-identity "
                  "scenes read as well as they play."),
)


class ReviewsHandler(Handler):
    service = "reviews"

    def route(self, method, path):
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "reviews":
            self.send_json(200, self.reviews(parts[1]), {"x-reviews-version": VERSION})
            return
        super().route(method, path)

    def ratings(self, book_id):
        """{reviewer: stars}, or None when ratings did not answer 200 in time."""
        try:
            status, body = get_json("%s/ratings/%s" % (RATINGS_URL, book_id),
                                    forwarded_headers(self.headers), RATINGS_TIMEOUT_S)
        except UpstreamError as e:
            self.log_message("ratings call failed: %s", e)
            return None
        if status != 200 or not isinstance(body, dict):
            self.log_message("ratings answered %d", status)
            return None
        return body.get("ratings") or {}

    def reviews(self, book_id):
        ratings = self.ratings(book_id) if STAR_COLOR else None
        out = []
        for reviewer, text in REVIEWS:
            review = {"reviewer": reviewer, "text": text}
            if STAR_COLOR:
                if ratings is None:
                    review["rating"] = {"error": RATINGS_UNAVAILABLE}
                elif reviewer in ratings:
                    review["rating"] = {"stars": ratings[reviewer], "color": STAR_COLOR}
            out.append(review)
        return {"id": book_id, "version": VERSION, "podname": instance_name("reviews-" + VERSION),
                "reviews": out}


if __name__ == "__main__":
    serve(ReviewsHandler, __doc__)
