"""Minimal TAP output for the kit's Python tests (tests/run-all.sh counts
"ok - ", "not ok - " and "# SKIP" lines). Usage:

    from tap import Tap
    t = Tap()
    t.ok(cond, "name", detail="printed as a comment when it fails")
    t.skip("name", "why")
    sys.exit(t.done())
"""
import sys
import traceback


class Tap:
    def __init__(self):
        self.failed = 0
        self.count = 0

    def ok(self, cond, name, detail=""):
        self.count += 1
        if cond:
            print(f"ok - {name}")
        else:
            self.failed += 1
            print(f"not ok - {name}")
            for line in str(detail).splitlines():
                print(f"#   {line}")
        sys.stdout.flush()
        return cond

    def raises(self, fn, exc_type, contains, name):
        """Checks that fn() raises exc_type whose message contains `contains`."""
        try:
            fn()
        except exc_type as e:
            return self.ok(contains in str(e), name, f"message: {e}\nexpected to contain: {contains}")
        except Exception:
            return self.ok(False, name, traceback.format_exc())
        return self.ok(False, name, "no exception raised")

    def msg_is(self, fn, exc_type, want, name):
        """Checks that fn() raises exc_type with exactly the message want
        (any other outcome is shown as the message got)."""
        try:
            fn()
            got = "no error"
        except exc_type as e:
            got = str(e)
        except Exception as e:  # noqa: BLE001
            got = f"unexpected {type(e).__name__}: {e}"
        return self.ok(got == want, name, f"got:  {got}\nwant: {want}")

    def skip(self, name, why):
        self.count += 1
        print(f"ok - {name} # SKIP {why}")

    def done(self):
        return 1 if self.failed else 0
