"""A restart lets the requests the old app already accepted finish, without noise."""

import threading

from tests.conftest import http_get, wait_for_body, write

SLOW_APP = """
    import asyncio
    import sys

    import tornado.web

    import version


    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(version.VERSION)


    class Slow(tornado.web.RequestHandler):
        async def get(self):
            print("slow request started", flush=True)
            await asyncio.sleep(0.8)
            self.write("slow done by " + version.VERSION)


    async def main():
        tornado.web.Application([(r"/", Main), (r"/slow", Slow)]).listen(int(sys.argv[1]), "127.0.0.1")
        await asyncio.Event().wait()


    asyncio.run(main())
"""


def test_request_in_flight_during_a_restart_is_answered_by_the_old_app(tdev, tmp_path, port):
    write(tmp_path / "app.py", SLOW_APP)
    write(tmp_path / "version.py", 'VERSION = "v1"\n')
    t = tdev(["run", "app.py", str(port)], cwd=tmp_path)
    wait_for_body(port, "v1")
    result = {}

    def slow():
        try:
            result["response"] = http_get(port, "/slow", timeout=10)
        except Exception as exc:  # recorded, asserted below
            result["error"] = exc

    client = threading.Thread(target=slow)
    client.start()
    t.wait_for(r"slow request started", stream="out")
    write(tmp_path / "version.py", 'VERSION = "v2"\n')
    client.join(timeout=15)
    assert result.get("response") == (200, "slow done by v1"), result
    wait_for_body(port, "v2")
    assert "Traceback" not in t.err and "Exception" not in t.err, t.err
    assert "did not stop" not in t.err
