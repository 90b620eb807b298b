"""A plain Tornado app, as in Tornado's guide.  Try: tdev run examples/hello/app.py"""

import asyncio
import os

import tornado.web

from greeting import GREETING


class MainHandler(tornado.web.RequestHandler):
    def get(self) -> None:
        self.write(f"{GREETING}\n")


def make_app() -> tornado.web.Application:
    return tornado.web.Application([(r"/", MainHandler)], debug=True)


async def main() -> None:
    port = int(os.environ.get("PORT", "8888"))
    app = make_app()
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
