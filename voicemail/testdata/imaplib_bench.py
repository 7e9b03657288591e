# The peer of BenchmarkIntegrationList: python's imaplib, and a raw TLS
# socket read without parsing, doing the same UID FETCH 1:* of the
# voicemail list items over TLS against the same dovecot in the same run.
# Usage: python3 imaplib_bench.py imaplib|raw HOST PORT CA_FILE USER PASSWORD ITERATIONS ITEMS
# where ITEMS is the listing's parenthesised FETCH items, as the Go side asks.
# Prints one line: "msgs=N iters=K wall_s=W cpu_s=C bytes=B", where W and C
# (user + system, getrusage of this process) cover the K fetches only, not
# the connection and login.
import imaplib, ssl, socket, sys, time, resource
mode, host, port, ca, user, pw, iters, items = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], int(sys.argv[7]), sys.argv[8]
ctx = ssl.create_default_context(cafile=ca)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
n = nbytes = 0
if mode == "imaplib":
    m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
    m.login(user, pw); m.select("INBOX", readonly=True)
    c0, t0 = cpu(), time.perf_counter()
    for i in range(iters):
        typ, data = m.uid("FETCH", "1:*", items)
        assert typ == "OK", typ
        n = sum(1 for d in data if isinstance(d, tuple))
    wall, c = time.perf_counter() - t0, cpu() - c0
    m.logout()
else:
    s = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
    f = s.makefile("rb", buffering=65536)
    f.readline()
    def cmd(tag, line):
        s.sendall(f"{tag} {line}\r\n".encode()); total = msgs = 0
        prefix = tag.encode() + b" "
        while True:
            l = f.readline(); total += len(l)
            if l.startswith(b"* "): msgs += 1
            if l.startswith(prefix):
                assert l.startswith(prefix + b"OK"), l
                return total, msgs
    cmd("a1", f'LOGIN "{user}" "{pw}"'); cmd("a2", "EXAMINE INBOX")
    c0, t0 = cpu(), time.perf_counter()
    for i in range(iters):
        nbytes, n = cmd(f"f{i}", "UID FETCH 1:* " + items)
    wall, c = time.perf_counter() - t0, cpu() - c0
print(f"msgs={n} iters={iters} wall_s={wall:.6f} cpu_s={c:.6f} bytes={nbytes}")
