#!/usr/bin/env python3
"""Bookinfo's productpage: the web page of one book, built from the details and reviews services.

GET /productpage     the page: the book, its details, its reviews and (reviews v2/v3) their stars;
                     "Reviews served by:" names the reviews instance that answered, and the
                     reviews block carries data-reviews-version="v1|v2|v3" for scripts and tests
GET /api/v1/products, /api/v1/products/<id>, /api/v1/products/<id>/reviews,
    /api/v1/products/<id>/ratings                      the same data as JSON
POST /login (form user=NAME)  sets the cookie session=NAME; GET /logout clears it
GET /health

The user is the `session` cookie, or `?u=NAME`; it goes to reviews (and from there to ratings) as
the `end-user` header, which Istio's header-match routing keys on. Upstreams: DETAILS_URL
(default http://details:9080), REVIEWS_URL (http://reviews:9080), RATINGS_URL
(http://ratings:9080). Timeouts are Istio's productpage's: 3 s for details, 3 s for reviews with
one more attempt, so productpage gives up on reviews after about 6 s: with Istio's 7 s ratings
delay for jason (virtual-service-ratings-test-delay.yaml) the page says reviews are unavailable.
"""
import html
import http.cookies
import os
import sys
import urllib.parse

from bookinfo_http import Handler, UpstreamError, forwarded_headers, get_json, instance_name, serve

DETAILS_URL = os.environ.get("DETAILS_URL", "http://details:9080").rstrip("/")
REVIEWS_URL = os.environ.get("REVIEWS_URL", "http://reviews:9080").rstrip("/")
RATINGS_URL = os.environ.get("RATINGS_URL", "http://ratings:9080").rstrip("/")
UPSTREAM_TIMEOUT_S = 3.0
REVIEWS_ATTEMPTS = 2

PRODUCT = {
    "id": 0,
    "title": "The Comedy of Errors",
    "descriptionHtml": "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">"
                       "Wikipedia Summary</a>: The Comedy of Errors is one of William "
                       "Shakespeare's early plays. It is his shortest and one of his most farcical "
                       "comedies, with a major part of the humour coming from slapstick and "
                       "mistaken identity, in addition to puns and word play.",
}
DETAILS_UNAVAILABLE = "Sorry, product details are currently unavailable for this book."
REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
RATINGS_UNAVAILABLE = "Sorry, product ratings are currently unavailable for this book."


def call(url, headers, attempts=1):
    """(status, body) of the first 200 among `attempts` tries; else the last status (500 when no
    try got an answer) and None. Each failed try is logged (app.log under weftctl)."""
    status = 500
    for attempt in range(1, attempts + 1):
        try:
            status, body = get_json(url, headers, UPSTREAM_TIMEOUT_S)
        except UpstreamError as e:
            sys.stderr.write("productpage: try %d of %s failed: %s\n" % (attempt, url, e))
            status = 500
            continue
        if status == 200:
            return status, body
        sys.stderr.write("productpage: try %d of %s answered %d\n" % (attempt, url, status))
    return status, None


class ProductPageHandler(Handler):
    service = "productpage"

    # ---- who is asking ----

    def user(self):
        name = (self.query().get("u") or [""])[0]
        if name:
            return name
        cookie = http.cookies.SimpleCookie(self.headers.get("cookie") or "")
        return cookie["session"].value if "session" in cookie else ""

    def upstream_headers(self):
        headers = forwarded_headers(self.headers)
        user = self.user()
        if user:
            headers["end-user"] = user
        return headers

    # ---- the upstream calls ----

    def details(self, book_id):
        status, body = call("%s/details/%s" % (DETAILS_URL, book_id), self.upstream_headers())
        return (status, body) if body is not None else (status, {"error": DETAILS_UNAVAILABLE})

    def reviews(self, book_id):
        status, body = call("%s/reviews/%s" % (REVIEWS_URL, book_id), self.upstream_headers(),
                            attempts=REVIEWS_ATTEMPTS)
        return (status, body) if body is not None else (status, {"error": REVIEWS_UNAVAILABLE})

    def ratings(self, book_id):
        status, body = call("%s/ratings/%s" % (RATINGS_URL, book_id), self.upstream_headers())
        return (status, body) if body is not None else (status, {"error": RATINGS_UNAVAILABLE})

    # ---- routes ----

    def route(self, method, path):
        parts = path.strip("/").split("/")
        if method == "GET" and path in ("/", "/index.html"):
            self.send_html(200, INDEX)
        elif method == "GET" and path == "/productpage":
            self.send_html(200, self.page())
        elif method == "POST" and path == "/login":
            form = urllib.parse.parse_qs(self.read_body().decode("utf-8", "replace"))
            user = (form.get("user") or form.get("username") or [""])[0]
            self.redirect_to_page("session=%s; Path=/" % urllib.parse.quote(user))
        elif path == "/logout":
            self.read_body()
            self.redirect_to_page("session=; Path=/; Max-Age=0")
        elif method == "GET" and parts[:3] == ["api", "v1", "products"]:
            self.api(parts[3:])
        else:
            super().route(method, path)

    def redirect_to_page(self, cookie):
        self.send_body(302, "text/plain", b"", {"location": "/productpage", "set-cookie": cookie})

    def api(self, rest):
        if not rest:
            self.send_json(200, [{k: PRODUCT[k] for k in ("id", "title", "descriptionHtml")}])
            return
        book_id = rest[0]
        what = {(): self.details, ("reviews",): self.reviews, ("ratings",): self.ratings}
        fetch = what.get(tuple(rest[1:]))
        if fetch is None or not book_id.isdigit():
            super().route("GET", "/api/v1/products/" + "/".join(rest))
            return
        self.send_json(*fetch(book_id))

    # ---- the page ----

    def page(self):
        user = self.user()
        _, details = self.details(PRODUCT["id"])
        _, reviews = self.reviews(PRODUCT["id"])
        if user:
            who = ("<p class=\"user\">signed in as <b>%s</b> "
                   "<a href=\"/logout\">sign out</a></p>" % html.escape(user))
        else:
            who = ("<form class=\"login\" method=\"POST\" action=\"/login\">"
                   "<input name=\"user\" placeholder=\"user\"> "
                   "<input name=\"passwd\" type=\"password\" placeholder=\"password\"> "
                   "<button>Sign in</button></form>")
        return PAGE % {
            "title": html.escape(PRODUCT["title"]),
            "description": PRODUCT["descriptionHtml"],
            "who": who,
            "details": render_details(details),
            "reviews": render_reviews(reviews),
            "served_by": html.escape(instance_name(self.service)),
        }


def render_details(details):
    if "error" in details:
        return "<p class=\"error\">%s</p>" % html.escape(details["error"])
    rows = "".join("<tr><th>%s</th><td>%s</td></tr>" % (html.escape(k), html.escape(str(v)))
                   for k, v in details.items() if k != "id")
    return "<table class=\"details\">%s</table>" % rows


def render_stars(rating):
    if "error" in rating:
        return "<p class=\"rating error\">%s</p>" % html.escape(rating["error"])
    stars = int(rating.get("stars", 0))
    color = html.escape(rating.get("color", "black"))
    return "<p class=\"rating\" data-stars=\"%d\" style=\"color: %s\">%s%s</p>" % (
        stars, color, "&#9733;" * stars, "&#9734;" * (5 - stars))


def render_reviews(reviews):
    if "error" in reviews:
        return ("<div class=\"reviews\" data-reviews-version=\"\">"
                "<p class=\"error\">%s</p></div>" % html.escape(reviews["error"]))
    items = []
    for review in reviews.get("reviews", []):
        item = "<blockquote><p>%s</p><footer>%s</footer>%s</blockquote>" % (
            html.escape(review.get("text", "")), html.escape(review.get("reviewer", "")),
            render_stars(review["rating"]) if "rating" in review else "")
        items.append(item)
    version = html.escape(str(reviews.get("version", "")))
    return ("<div class=\"reviews\" data-reviews-version=\"%s\">%s"
            "<p class=\"served-by\">Reviews served by: <b>%s</b></p></div>" % (
                version, "".join(items), html.escape(str(reviews.get("podname", version)))))


INDEX = """<!DOCTYPE html>
<html><head><title>Simple Bookstore App</title></head>
<body><h1>Simple Bookstore App</h1>
<p>This is Bookinfo, four small services in a service mesh.</p>
<ul><li><a href="/productpage?u=normal">Normal user</a></li>
<li><a href="/productpage?u=test">Test user</a></li></ul>
</body></html>
"""

PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Simple Bookstore App</title></head>
<body>
<header><h1>BookInfo Sample</h1>%(who)s</header>
<h2>%(title)s</h2>
<p class="summary">%(description)s</p>
<section><h3>Book Details</h3>%(details)s</section>
<section><h3>Book Reviews</h3>%(reviews)s</section>
<footer><small>page served by %(served_by)s</small></footer>
</body></html>
"""


if __name__ == "__main__":
    serve(ProductPageHandler, __doc__)
