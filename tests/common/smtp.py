# A real SMTP server for the email alert tests (aiosmtpd): STARTTLS required, AUTH LOGIN/PLAIN
# with one user, each message saved as msg-N.eml in OUT_DIR.
# Usage: smtp.py PORT OUT_DIR CERT KEY USER PASSWORD
import asyncio, os, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, out, cert, key, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
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

c = Controller(Save(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, authenticator=auth, auth_required=True)
c.start()
open(os.path.join(out, "ready"), "w").close()
while True:
    time.sleep(3600)
