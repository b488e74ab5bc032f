#!/usr/bin/env python3
"""Bookinfo's details service: the book's publishing facts as JSON.

GET /details/<id> -> {"id", "author", "year", "type", "pages", "publisher", "language",
"ISBN-10", "ISBN-13"}; GET /health. Listens on --listen (default 0.0.0.0:9080).
"""
from bookinfo_http import Handler, instance_name, serve

BOOK = {
    "author": "William Shakespeare",
    "year": 1595,
    "type": "paperback",
    "pages": 200,
    "publisher": "PublisherA",
    "language": "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
}


class DetailsHandler(Handler):
    service = "details"

    def route(self, method, path):
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "details":
            try:
                book_id = int(parts[1])
            except ValueError:
                self.send_json(400, {"error": "please provide numeric product id"})
                return
            self.send_json(200, {"id": book_id, **BOOK},
                           {"x-served-by": instance_name(self.service)})
            return
        super().route(method, path)


if __name__ == "__main__":
    serve(DetailsHandler, __doc__)
