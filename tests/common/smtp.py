# A real SMTP server for the email alert tests (aiosmtpd): STARTTLS required (or TLS from the
# first byte with MODE=implicit), AUTH LOGIN/PLAIN with one user, each message saved as msg-N.eml
# in OUT_DIR.
# Usage: smtp.py PORT OUT_DIR CERT KEY USER PASSWORD [starttls|implicit]
import asyncio, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, out, cert, key, user, password = sys.argv[1:7]
mode = sys.argv[7] if len(sys.argv) > 7 else "starttls"
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)

class Save:
    def __init__(self):
        self.n = 0
    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        tmp = os.path.join(out, ".msg-%d.tmp" % self.n)
        with open(tmp, "wb") as f:
            f.write(envelope.content)
        os.rename(tmp, os.path.join(out, "msg-%d.eml" % self.n))
        return "250 OK"

def auth(server, session, envelope, mechanism, data):
    ok = data.login.decode() == user and data.password.decode() == password
    return AuthResult(success=ok)

if mode == "implicit":
    # The whole connection is TLS; aiosmtpd 1.4 only counts STARTTLS as TLS for AUTH.
    c = Controller(Save(), hostname="127.0.0.1", port=int(port), ssl_context=ctx,
                   authenticator=auth, auth_required=True, auth_require_tls=False)
else:
    c = Controller(Save(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
                   require_starttls=True, authenticator=auth, auth_required=True)
c.start()
open(os.path.join(out, "ready"), "w").close()
while True:
    time.sleep(3600)
