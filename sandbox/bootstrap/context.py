# isol8 context kernel for python3 (see src/engine/context.ts).
#
# The engine starts `python3 /usr/local/lib/isol8/context.py` as one long
# supervisor run in a context's own sandbox container and keeps it running:
# a live interpreter whose variables, imports and functions survive from one
# call (a "cell") to the next, like a notebook.
#
# Protocol (one JSON object per line):
#   engine -> kernel, on the run's stdin:  {"cell": N, "code": "..."}
#   kernel -> engine, on the run's stdout:
#     {"type": "ready"}                                    once, when it can take cells
#     {"cell": N, "type": "stdout" | "stderr", "data": B}  output of cell N
#     {"cell": N, "type": "value", "data": B}              part of repr() of its last expression
#     {"cell": N, "type": "output", "index": K, "data": B,
#      "mime": M, "size": S}                               part of rich output K of cell N
#     {"cell": N, "type": "done", "status": "ok" | "error" | "interrupted",
#      "exitCode": E, "cpuMs": C, "rssKb": R}              always last for cell N
#   B is base64 of the bytes (UTF-8 for values). Rich output K (1, 2, ... per
#   cell) is S bytes of type M (image/png, image/svg+xml or text/html, the
#   text as UTF-8) sent in consecutive parts; the first part carries "mime"
#   and "size", an output whose parts do not add up to S (an interrupt cut
#   it) is incomplete. Output records come in order with the stdout and
#   stderr records. Every line is written with
#   one write() of at most PIPE_BUF (4096) bytes, so lines from several
#   threads (or a forked child) never interleave.
#
# The protocol uses private duplicates of the original stdin and stdout. fd 0
# becomes /dev/null; fds 1 and 2 become pipes this kernel reads and forwards
# as stdout/stderr records, so print(), os.write(1, ...) and the output of
# subprocesses are all captured and can never corrupt the protocol.
# sys.stdout/sys.stderr write records directly (line-buffered), draining the
# pipes first, so the order of a cell's output is kept.
#
# The engine interrupts a cell that runs past its timeout with SIGINT (a
# KeyboardInterrupt in the cell); SIGINT outside a cell is ignored. The
# tracebacks of a cell's errors start at the cell's own frames ("<cell N>",
# with its source lines); this file's frames are cut.
#
# Rich outputs (as IPython's display protocol, a small part of it): after a
# cell, every open matplotlib figure is rendered to PNG, sent and closed
# (plt.show() in a cell does it at that point, keeping the order with the
# text); a last value with _repr_png_, _repr_svg_ or _repr_html_ (the first
# that gives something, in that order) or a matplotlib Figure is sent as one
# too, besides its repr() text. matplotlib gets the backend "module://
# isol8_inline" (Agg drawing, a show() that sends the figures) when it is
# imported in the kernel; MPLBACKEND=Agg in the environment keeps programs
# the cell starts from ever opening a window or blocking.
import ast
import io
import base64
import builtins
import errno
import importlib.util
import linecache
import os
import select
import signal
import sys
import threading
import traceback
import types

KERNEL_FILE = __file__ if "__file__" in globals() else ""
CHUNK = 3000  # raw bytes per record: base64 plus the envelope stays under 4096
OUTPUT_CHUNK = 2880  # the same for output records, whose envelope is longer
BACKEND = "isol8_inline"  # the matplotlib backend module this kernel provides
CO_COROUTINE = 0x0080


def _main():
    # --- descriptors -------------------------------------------------------
    proto_in = os.dup(0)  # os.dup: not inherited by programs the cell starts
    proto_out = os.dup(1)
    diag = os.dup(2)  # the supervisor's stderr: only for the kernel's own failures
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    pipes = {out_r: b"stdout", err_r: b"stderr"}

    kernel_pid = os.getpid()
    lock = threading.Lock()
    state = types.SimpleNamespace(cell=0, running=False, outputs=0)

    def fatal(message):
        try:
            os.write(diag, f"isol8 context kernel: {message}\n".encode())
        finally:
            os._exit(70)

    def write_line(line):
        # One write of <= PIPE_BUF bytes is atomic on a pipe; a partial one
        # would be a broken protocol, so the kernel gives up instead.
        try:
            if os.write(proto_out, line) != len(line):
                fatal("short write on the protocol channel")
        except BrokenPipeError:
            os._exit(0)  # the engine is gone

    def record(kind, data, cell=None):
        number = state.cell if cell is None else cell
        for start in range(0, max(len(data), 1), CHUNK):
            part = base64.b64encode(data[start : start + CHUNK])
            write_line(b'{"cell":%d,"type":"%s","data":"%s"}\n' % (number, kind, part))

    def drain(fd):
        # Caller holds the lock.
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno == errno.EINTR:
                    continue
                return
            if not chunk:
                return
            record(pipes[fd], chunk)

    def drain_all():
        drain(out_r)
        drain(err_r)

    def forward():
        poller = select.poll()
        for fd in pipes:
            poller.register(fd, select.POLLIN)
        while True:
            try:
                events = poller.poll()
            except InterruptedError:
                continue
            with lock:
                for fd, _ in events:
                    drain(fd)

    class RecordStream(io.TextIOBase):
        """sys.stdout / sys.stderr: line-buffered text that becomes records.

        Buffered text is taken before it is written, so an interrupt can cut
        output short but never repeats it.
        """

        def __init__(self, kind, fd):
            super().__init__()
            self._kind = kind
            self._fd = fd
            self._parts = []
            self._size = 0
            self.buffer = RecordBytes(self)

        encoding = "utf-8"
        errors = "backslashreplace"
        line_buffering = True
        newlines = None

        @property
        def name(self):
            return "<stdout>" if self._fd == 1 else "<stderr>"

        @property
        def mode(self):
            return "w"

        def write(self, text):
            if not isinstance(text, str):
                raise TypeError(f"write() argument must be str, not {type(text).__name__}")
            if text:
                self._parts.append(text)
                self._size += len(text)
                if "\n" in text or self._size >= 8192:
                    self.flush()
            return len(text)

        def flush(self):
            if not self._parts:
                return
            text = "".join(self._parts)
            self._parts = []
            self._size = 0
            self.write_bytes(text.encode("utf-8", "backslashreplace"))

        def write_bytes(self, data):
            with lock:
                drain_all()
                record(self._kind, data)

        def writable(self):
            return True

        def readable(self):
            return False

        def seekable(self):
            return False

        def fileno(self):
            return self._fd

        def isatty(self):
            return False

        def close(self):
            self.flush()

        @property
        def closed(self):
            return False

    class RecordBytes:
        """`sys.stdout.buffer`: bytes written as they come, after any buffered text."""

        def __init__(self, stream):
            self._stream = stream

        def write(self, data):
            data = bytes(data)
            self._stream.flush()
            if data:
                self._stream.write_bytes(data)
            return len(data)

        def flush(self):
            self._stream.flush()

        def writable(self):
            return True

        def fileno(self):
            return self._stream.fileno()

        def isatty(self):
            return False

        @property
        def closed(self):
            return False

    sys.stdout = RecordStream(b"stdout", 1)
    sys.stderr = RecordStream(b"stderr", 2)

    def flush_streams():
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except BaseException:
                pass

    threading.Thread(target=forward, name="isol8-output", daemon=True).start()

    # --- rich outputs ------------------------------------------------------
    def emit_output(mime, data):
        """Sends rich output `data` (bytes) of type `mime`, after the text so far."""
        flush_streams()
        with lock:
            drain_all()
            state.outputs += 1
            index = state.outputs
            for start in range(0, max(len(data), 1), OUTPUT_CHUNK):
                part = base64.b64encode(data[start : start + OUTPUT_CHUNK])
                head = b'"mime":"%s","size":%d,' % (mime, len(data)) if start == 0 else b""
                write_line(
                    b'{"cell":%d,"type":"output","index":%d,%s"data":"%s"}\n'
                    % (state.cell, index, head, part)
                )

    def emit_figure(figure):
        # As IPython does: an empty figure shows nothing.
        if not figure.axes and not figure.lines:
            return
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        emit_output(b"image/png", buffer.getvalue())

    def open_figures():
        helpers = sys.modules.get("matplotlib._pylab_helpers")
        return list(helpers.Gcf.get_all_fig_managers()) if helpers else []

    def flush_figures(*args, **kwargs):
        """Sends every open pyplot figure as PNG and closes it (also plt.show())."""
        for manager in open_figures():
            try:
                emit_figure(manager.canvas.figure)
            finally:
                sys.modules["matplotlib._pylab_helpers"].Gcf.destroy(manager)

    def close_figures():
        for manager in open_figures():
            try:
                sys.modules["matplotlib._pylab_helpers"].Gcf.destroy(manager)
            except Exception:
                pass

    RICH = (
        ("_repr_png_", b"image/png"),
        ("_repr_svg_", b"image/svg+xml"),
        ("_repr_html_", b"text/html"),
    )

    def show_value(value):
        """Sends the richest representation of a cell's last value, if it has one."""
        if isinstance(value, type):
            return
        figures = sys.modules.get("matplotlib.figure")
        if figures is not None and isinstance(value, figures.Figure):
            # An open pyplot figure is sent after the cell anyway.
            if not any(m.canvas.figure is value for m in open_figures()):
                emit_figure(value)
            return
        try:
            # An object that makes up every attribute has no real reprs (as in IPython).
            if getattr(value, "_ipython_canary_method_should_not_exist_", None) is not None:
                return
        except Exception:
            return
        for name, mime in RICH:
            try:
                method = getattr(value, name, None)
                if not callable(method):
                    continue
                data = method()
            except Exception as error:
                sys.stderr.write(f"isol8: {type(value).__name__}.{name}() failed: {error!r}\n")
                continue
            if isinstance(data, tuple):  # (data, metadata)
                data = data[0] if data else None
            if mime == b"image/png" and isinstance(data, str):
                try:
                    data = base64.b64decode(data, validate=True)
                except ValueError:
                    data = None
            elif mime != b"image/png" and isinstance(data, str):
                data = data.encode("utf-8", "backslashreplace")
            if isinstance(data, (bytes, bytearray, memoryview)) and len(data) > 0:
                emit_output(mime, bytes(data))
                return

    class BackendLoader:
        """The matplotlib backend module `isol8_inline`: Agg, with show() sending the figures."""

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            from matplotlib.backend_bases import FigureManagerBase
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            module.FigureCanvas = FigureCanvasAgg
            module.FigureManager = FigureManagerBase
            module.backend_version = "isol8"
            module.show = flush_figures

    class AfterLoader:
        """A module's own loader, with a step after the module has run."""

        def __init__(self, loader, after):
            self._loader = loader
            self._after = after

        def create_module(self, spec):
            return self._loader.create_module(spec)

        def exec_module(self, module):
            self._loader.exec_module(module)
            self._after(module)

        def __getattr__(self, name):
            return getattr(self._loader, name)

    def on_matplotlib(module):
        # Unless the cell chose a backend itself (MPLBACKEND or matplotlibrc).
        if os.environ.get("MPLBACKEND") == "Agg" and module.rcParams["backend"].lower() == "agg":
            module.rcParams["backend"] = f"module://{BACKEND}"

    class MatplotlibHook:
        """Provides the backend module and sets it when matplotlib is imported."""

        def find_spec(self, name, path, target=None):
            if name == BACKEND:
                return importlib.util.spec_from_loader(name, BackendLoader())
            if name != "matplotlib":
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                        spec.loader = AfterLoader(spec.loader, on_matplotlib)
                    return spec
            return None

        def invalidate_caches(self):
            pass

    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.meta_path.insert(0, MatplotlibHook())

    # --- the namespace cells run in: a fresh __main__, as in the REPL ----
    main = types.ModuleType("__main__")
    main.__builtins__ = builtins
    sys.modules["__main__"] = main
    namespace = main.__dict__
    sys.argv = [""]
    sys.path[0] = ""  # the working directory (/sandbox), as in the REPL
    for name in ("__file__", "__cached__"):
        namespace.pop(name, None)

    def on_sigint(signum, frame):
        if state.running:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)

    loop_holder = []

    def run_code(code):
        result = eval(code, namespace)
        if code.co_flags & CO_COROUTINE:
            if not loop_holder:
                import asyncio

                loop_holder.append(asyncio.new_event_loop())
            result = loop_holder[0].run_until_complete(result)
        return result

    def kernel_frame(tb):
        return tb.tb_frame.f_code.co_filename == KERNEL_FILE

    def cell_traceback(error):
        """The traceback from the cell's first frame, without this file's frames
        below it (run_cell) or above its last (the SIGINT handler)."""
        tb = error.__traceback__
        while tb is not None and kernel_frame(tb):
            tb = tb.tb_next
        last = None
        node = tb
        while node is not None:
            if not kernel_frame(node):
                last = node
            node = node.tb_next
        if last is not None:
            last.tb_next = None
        return tb

    def report(error):
        tb = cell_traceback(error)
        error.__traceback__ = tb
        sys.last_type, sys.last_value, sys.last_traceback = type(error), error, tb
        try:
            text = "".join(traceback.format_exception(type(error), error, tb))
        except BaseException:
            text = f"{type(error).__name__}: (the error could not be formatted)\n"
        sys.stderr.write(text)
        sys.stderr.flush()

    def run_cell(cell, source):
        """Runs one cell; returns (status, exit code, value text or None)."""
        filename = f"<cell {cell}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        value = None
        try:
            try:
                state.running = True
                tree = compile(source, filename, "exec", ast.PyCF_ONLY_AST | flags, True)
                last = None
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last = ast.Expression(tree.body.pop().value)
                run_code(compile(tree, filename, "exec", flags, True))
                if last is not None:
                    result = run_code(compile(last, filename, "eval", flags, True))
                    if result is not None:
                        value = repr(result)
                        show_value(result)
            finally:
                state.running = False
        except KeyboardInterrupt as error:
            state.running = False
            report(error)
            return "interrupted", 130, None
        except SystemExit as error:
            # As the interpreter does at exit; the context goes on.
            code = error.code
            if code is None:
                return "ok", 0, None
            if isinstance(code, int):
                return ("ok" if code == 0 else "error"), code & 0xFF, None
            try:
                sys.stderr.write(f"{code}\n")
            except BaseException:
                pass
            return "error", 1, None
        except BaseException as error:
            report(error)
            return "error", 1, None
        return "ok", 0, value

    def after_cell(status, exit_code, value):
        """Sends the figures a cell left open; failing to draw one fails the cell."""
        if not open_figures():
            return status, exit_code, value
        if status == "interrupted":
            close_figures()
            return status, exit_code, value
        try:
            try:
                state.running = True
                flush_figures()
            finally:
                state.running = False
        except KeyboardInterrupt as error:
            report(error)
            status, exit_code, value = "interrupted", 130, None
        except BaseException as error:
            report(error)
            if status == "ok":
                status, exit_code = "error", 1
        finally:
            close_figures()
        return status, exit_code, value

    def rss_kb():
        try:
            with open("/proc/self/statm", "rb") as statm:
                return int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        except (OSError, ValueError, IndexError):
            return 0

    def finish(cell, status, exit_code, value, cpu_ms):
        flush_streams()
        with lock:
            drain_all()
            if value is not None:
                record(b"value", value.encode("utf-8", "backslashreplace"), cell)
            write_line(
                b'{"cell":%d,"type":"done","status":"%s","exitCode":%d,"cpuMs":%d,"rssKb":%d}\n'
                % (cell, status.encode(), exit_code, cpu_ms, rss_kb())
            )

    # --- the loop: read a cell, run it, report -----------------------------
    import json

    write_line(b'{"type":"ready"}\n')
    pending = b""
    while True:
        while b"\n" not in pending:
            try:
                chunk = os.read(proto_in, 1 << 20)
            except InterruptedError:
                continue
            if not chunk:
                os._exit(0)  # the engine closed the context
            pending += chunk
        line, _, pending = pending.partition(b"\n")
        try:
            request = json.loads(line)
            cell = int(request["cell"])
            source = str(request["code"])
        except (ValueError, KeyError, TypeError) as error:
            fatal(f"bad request: {error}")
        state.cell = cell
        state.outputs = 0
        signal.signal(signal.SIGINT, on_sigint)  # a cell may have replaced it
        cpu_before = os.times()
        status, exit_code, value = "error", 1, None
        try:
            status, exit_code, value = run_cell(cell, source)
        except KeyboardInterrupt:
            state.running = False
            status, exit_code = "interrupted", 130
        if os.getpid() != kernel_pid:
            # A cell forked and this is the child, back from the cell: it ends
            # here rather than becoming a second kernel.
            flush_streams()
            os._exit(0)
        try:
            status, exit_code, value = after_cell(status, exit_code, value)
        except KeyboardInterrupt:
            state.running = False
            status, exit_code, value = "interrupted", 130, None
        cpu_after = os.times()
        cpu_ms = int(
            (cpu_after.user + cpu_after.system - cpu_before.user - cpu_before.system) * 1000
        )
        try:
            finish(cell, status, exit_code, value, cpu_ms)
        except KeyboardInterrupt:
            # A late interrupt (the cell had just ended): the record is still owed.
            state.running = False
            finish(cell, "interrupted", 130, None, cpu_ms)


_main()
