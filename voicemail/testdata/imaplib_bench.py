# Compares python's imaplib and a raw TLS read with the Go listing benchmarks
# (BenchmarkIntegrationList, BenchmarkIntegrationRawRead) on the same UID FETCH.
# Usage: python3 imaplib_bench.py HOST PORT CA_FILE USER PASSWORD
# against a lab dovecot (csfctl lab up --servers dovecot) holding the messages.
# Times one UID FETCH 1:* of the voicemail list items with imaplib, and a
# raw TLS socket read of the same response, against the lab's dovecot.
import imaplib, ssl, socket, sys, time, resource
host, port, ca, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
fields = ("From Date Subject Importance Priority X-Priority X-MSMail-Priority Sensitivity Content-Duration "
          "X-Content-Duration X-Asterisk-VM-Duration X-CallerID X-Caller-ID X-Cisco-CallerID X-Cisco-Caller-ID "
          "X-Asterisk-CallerID X-Asterisk-CallerIDName X-Asterisk-CallerIDNum")
items = f"(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS ({fields})])"
ctx = ssl.create_default_context(cafile=ca)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
m = imaplib.IMAP4_SSL(host, port, ssl_context=ctx)
m.login(user, pw); m.select("INBOX")
for i in range(4):
    c0, t0 = cpu(), time.perf_counter()
    typ, data = m.uid("FETCH", "1:*", items)
    wall, c = time.perf_counter() - t0, cpu() - c0
    n = sum(1 for d in data if isinstance(d, tuple))
    print(f"imaplib: {n} msgs {wall*1000:.0f} ms wall, {c/n*1e6:.1f} µs cpu/msg")
m.logout()
s = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname=host)
f = s.makefile("rb", buffering=65536)
f.readline()
def cmd(tag, line):
    s.sendall(f"{tag} {line}\r\n".encode()); total = 0
    while True:
        l = f.readline(); total += len(l)
        if l.startswith(tag.encode() + b" "): return total
cmd("a1", f'LOGIN "{user}" "{pw}"'); cmd("a2", "SELECT INBOX")
for i in range(4):
    c0, t0 = cpu(), time.perf_counter()
    nb = cmd(f"f{i}", "UID FETCH 1:* " + items)
    print(f"raw read: {nb} bytes {(time.perf_counter()-t0)*1000:.0f} ms wall, {(cpu()-c0)*1e6/10000:.1f} µs cpu/msg")
