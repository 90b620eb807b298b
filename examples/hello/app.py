"""A plain Tornado app, as in Tornado's guide.

Try it under tdev:

    tdev run examples/hello/app.py

then open http://127.0.0.1:8888/ and edit greeting.py (the app restarts and the
page reloads), templates/index.html or static/style.css (the page reloads, no
restart needed with debug=True).  Plain ``python examples/hello/app.py`` works too.
"""

import asyncio
import os

import tornado.web

from greeting import GREETING

HERE = os.path.dirname(os.path.abspath(__file__))


class MainHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        if "text/html" in self.request.headers.get("Accept", ""):
            self.render("index.html", greeting=GREETING)
        else:
            self.write(f"{GREETING}\n")


def make_app() -> tornado.web.Application:
    return tornado.web.Application(
        [(r"/", MainHandler)],
        debug=True,
        template_path=os.path.join(HERE, "templates"),
        static_path=os.path.join(HERE, "static"),
    )


async def main() -> None:
    port = int(os.environ.get("PORT", "8888"))
    app = make_app()
    app.listen(port, address="127.0.0.1")
    print(f"hello: serving on http://127.0.0.1:{port}/", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
