# isol8 prestart bootstrap for python3 (see 'P' in sandbox/supervisor.c).
#
# The supervisor starts `python3 /usr/local/lib/isol8/python.py` as the
# sandbox user, with the runtime's fixed environment only, while the sandbox
# is idle. Interpreter start-up (the slow part) happens then; this file then
# blocks reading fd 3 until a run arrives: NUL-terminated entries "a<arg>",
# "e<NAME=value>" and "w<dir>", the argv, environment and working directory
# of `python3 <file> <args...>`. It becomes that program: the file runs as
# __main__ with the environment replaced by the request's, and with the
# sys.argv, sys.path[0], __file__, tracebacks and exit status that running
# python3 on the file would give.
#
# Everything happens at module level, so the only frame below the program's
# is this module's; tracebacks are cut to start at the program's frames.
import os
import sys

# The compiler's first use in a process is slow (about a millisecond): pay
# it now, while idle. The code object is dropped; nothing else remains.
compile(b"pass\n", "<isol8>", "exec", dont_inherit=True)

try:
    _chunks = []
    while True:
        _chunk = os.read(3, 65536)
        if not _chunk:
            break
        _chunks.append(_chunk)
    os.close(3)
    _argv, _env, _workdir = [], [], "/sandbox"
    for _entry in b"".join(_chunks).split(b"\0")[:-1]:
        _value = os.fsdecode(_entry[1:])
        if _entry[:1] == b"a":
            _argv.append(_value)
        elif _entry[:1] == b"e":
            _env.append(_value)
        elif _entry[:1] == b"w":
            _workdir = _value
    del _chunks, _chunk

    # The environment becomes the request's, both os.environ and the C one
    # child processes inherit; the first of duplicate names wins, as at start-up.
    os.environ.clear()
    for _entry in _env:
        _name, _eq, _value = _entry.partition("=")
        if _eq and _name not in os.environ:
            try:
                os.environ[_name] = _value
            except ValueError:
                pass
    if "time" in sys.modules:
        sys.modules["time"].tzset()  # time read TZ at start-up, from the bootstrap's environment

    try:
        os.chdir(_workdir)
    except OSError as _error:
        os.write(2, f"isol8: cannot enter working directory {_workdir}: {_error.strerror}\n".encode())
        os._exit(127)

    _script = _argv[1]
    _path = os.path.abspath(_script)
    sys.argv = _argv[1:]
    sys.orig_argv = _argv
    sys.path_importer_cache.pop(sys.path[0], None)
    sys.path[0] = os.path.dirname(os.path.realpath(_script))

    try:
        with open(_script, "rb") as _file:
            _source = _file.read()
    except OSError as _error:
        sys.stderr.write(
            f"{_argv[0]}: can't open file {_path!r}: [Errno {_error.errno}] {_error.strerror}\n"
        )
        raise SystemExit(2) from None

    # A fresh __main__, with the names the interpreter gives a script's module.
    _main = type(sys)("__main__")
    _main.__loader__ = type(__loader__)("__main__", _path)
    _main.__annotations__ = {}
    _main.__builtins__ = __builtins__
    _main.__file__ = _path
    _main.__cached__ = None
    sys.modules["__main__"] = _main

    exec(compile(_source, _path, "exec", dont_inherit=True), _main.__dict__)
except SystemExit:
    raise
except BaseException as _error:
    # What the interpreter does with an exception that ends the program, with
    # this file's frames cut from the traceback.
    _tb = _error.__traceback__
    while _tb is not None and _tb.tb_frame.f_code.co_filename == __file__:
        _tb = _tb.tb_next
    _error.__traceback__ = _tb
    sys.last_type, sys.last_value, sys.last_traceback = type(_error), _error, _tb
    _hook = getattr(sys, "excepthook", None)
    sys.audit("sys.excepthook", _hook, type(_error), _error, _tb)
    if _hook is None:
        sys.stderr.write("sys.excepthook is missing\n")
        sys.__excepthook__(type(_error), _error, _tb)
    else:
        try:
            _hook(type(_error), _error, _tb)
        except SystemExit:
            raise
        except BaseException as _hook_error:
            sys.stderr.write("Error in sys.excepthook:\n")
            sys.__excepthook__(type(_hook_error), _hook_error, _hook_error.__traceback__.tb_next)
            sys.stderr.write("\nOriginal exception was:\n")
            sys.__excepthook__(type(_error), _error, _tb)
    if isinstance(_error, KeyboardInterrupt):
        # The interpreter finishes, then dies of SIGINT so its parent knows.
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()
        import atexit
        import signal

        atexit._run_exitfuncs()
        for _stream in (sys.stdout, sys.stderr):
            try:
                _stream.flush()
            except Exception:
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        os._exit(130)
    raise SystemExit(1) from None
