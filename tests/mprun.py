# Runs one test module's test_* functions inside MicroPython and reports each on its own line:
#   @@PASS name        @@FAIL name <traceback text, one line per @@| line>
# Launched by tests/conftest.py as:  micropython -X heapsize=96k tests/mprun.py <module name> [name ...]
import sys
import gc


def main():
    name = sys.argv[1]  # module name, found through MICROPYPATH (precompiled .mpy)
    wanted = sys.argv[2:]
    try:
        mod = __import__(name)
    except Exception as e:
        print("@@IMPORTERROR", name)
        sys.print_exception(e, sys.stdout)
        return
    names = wanted or sorted(k for k in dir(mod) if k.startswith("test_"))
    for n in names:
        fn = getattr(mod, n, None)
        if fn is None:
            print("@@FAIL", n)
            print("@@| no such test in", name)
            continue
        gc.collect()
        try:
            fn()
        except Exception as e:
            print("@@FAIL", n)
            import io
            buf = io.StringIO()
            sys.print_exception(e, buf)
            for line in buf.getvalue().split("\n"):
                print("@@|", line)
        else:
            print("@@PASS", n)
    print("@@DONE")


main()
